from . import pos_config, pos_session

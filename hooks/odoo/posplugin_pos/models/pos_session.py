from odoo import models


class PosSession(models.Model):
    _inherit = "pos.session"

    def _get_pos_ui_pos_config(self, params):
        """The POS's settings as loaded in the browser, with posplugin's.

        Read as superuser: the token field is for POS managers in the back
        office, but the cashier's POS needs it to call posplugin."""
        config = super()._get_pos_ui_pos_config(params)
        record = self.config_id.sudo()
        config.update({
            "posplugin_url": (record.posplugin_url or "").strip().rstrip("/"),
            "posplugin_token": (record.posplugin_token or "").strip(),
            "posplugin_lane": (record.posplugin_lane or "").strip() or str(record.id),
        })
        return config

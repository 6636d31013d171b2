"""One serving process per data folder."""

import subprocess
import sys

import pytest
from helpers import clean_env

from posplugin import datalock
from posplugin.config import ConfigError

HOLD = "import sys; from posplugin import datalock; lock = datalock.hold(sys.argv[1]); print('held', flush=True); sys.stdin.read()"


def test_a_second_holder_is_refused_with_what_to_do(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], env=clean_env(), text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ConfigError) as info:
            datalock.hold(tmp_path, "demo")
        assert "already serving" in info.value.problems[0] and "this demo its own --data" in info.value.problems[0]
    finally:
        holder.kill()
        holder.wait()
    datalock.hold(tmp_path).release()  # a dead holder leaves nothing behind


def test_released_lock_can_be_taken_again(tmp_path):
    datalock.hold(tmp_path).release()
    lock = datalock.hold(tmp_path)
    assert lock.is_locked
    lock.release()

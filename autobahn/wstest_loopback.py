# -*- coding: utf-8 -*-
"""Run `wstest` (Python 2.7, from autobahn/.venv) with its listeners bound to
the host of the spec URL instead of all interfaces.

wstest 0.8.2's fuzzingserver mode calls autobahn's listenWS() without an
interface, so it would listen on 0.0.0.0. run.sh only ever uses 127.0.0.1, so
this wrapper makes listenWS bind to the URL's host (127.0.0.1). Everything
else (arguments, behaviour, exit status) is wstest's own.

Usage: autobahn/.venv/bin/python autobahn/wstest_loopback.py [wstest args]
"""
import sys
import warnings

# cryptography 3.3 warns on every start that Python 2 is deprecated.
warnings.filterwarnings("ignore", message=".*Python 2 is no longer supported.*")

from autobahn.twisted import websocket as _twisted_ws  # noqa: E402
from autobahntestsuite import fuzzing as _fuzzing  # noqa: E402
from autobahntestsuite import wstest as _wstest  # noqa: E402

_listen_ws = _twisted_ws.listenWS


def _listen_ws_on_url_host(factory, contextFactory=None, backlog=50, interface=''):
    if not interface:
        interface = getattr(factory, "host", "") or "127.0.0.1"
    return _listen_ws(factory, contextFactory, backlog, interface)


_twisted_ws.listenWS = _listen_ws_on_url_host
_fuzzing.listenWS = _listen_ws_on_url_host

if __name__ == "__main__":
    sys.argv[0] = "wstest"
    sys.exit(_wstest.run())

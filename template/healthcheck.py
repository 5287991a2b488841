"""Container health check: does the MCP server answer on the container's own address?

It probes the container's host name (its network address), not 127.0.0.1, on purpose: a
server that binds only loopback is unreachable from outside and must show as unhealthy.
"""

import os
import socket
import sys
import urllib.error
import urllib.request

url = f"http://{socket.gethostname()}:{os.environ.get('MCP_SERVE_PORT', '8000')}/healthz"
# No proxy: an HTTP_PROXY in the container's environment must not answer for the server.
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    with opener.open(url, timeout=3) as response:
        sys.exit(0 if response.status == 200 else 1)
except urllib.error.HTTPError as error:  # the server answers, and says what is wrong
    print(f"unhealthy: {url}: {error.code}: {error.read().decode(errors='replace')}", file=sys.stderr)
    sys.exit(1)
except OSError as error:
    print(f"unhealthy: {url}: {error}", file=sys.stderr)
    sys.exit(1)

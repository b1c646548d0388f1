-- Local stand-in for Polytomic's bulk-sync API, for specs and `make demo`.
--
--   lua5.4 standin/server.lua [--port N] [--port-file PATH] [--api-key KEY]
--                             [--org-id ORG] [--watch-pid PID] [--quiet]
--
-- Listens on 127.0.0.1 only. --port 0 (the default) picks a free port; the
-- port is written to --port-file (atomically, once listening) and printed
-- unless --quiet. Auth: "Bearer KEY" or "Basic base64(ORG:KEY)"; defaults are
-- in standin/seed.lua. --watch-pid makes the server exit when that process is
-- gone, so a crashed test run cannot leave it behind.
--
-- Stopping: SIGTERM ends the process (the default action; nothing to clean up
-- but the port file, which belongs to the caller). SIGINT ends it cleanly within
-- a quarter second. POST /_standin/shutdown also ends it.
--
-- One thread: each TCP connection is a coroutine that yields whenever it would
-- block (read, write, or a configured response delay) and socket.select wakes
-- it, so a slow response never holds up other connections. HTTP/1.1 keep-alive,
-- pipelining, Content-Length and chunked request bodies, Expect: 100-continue.
--
-- The control API under /_standin/ (no auth) is documented in standin/README.md.

--
-- The work is in standin/serve.lua; this script only finds the checkout.

local root = ((arg and arg[0] or ""):match("^(.-)[^/]*$") or "") .. ".."
package.path = root .. "/?.lua;" .. package.path

os.exit(require("standin.serve").run(arg))

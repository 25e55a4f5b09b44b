// A person's own web server, as Open OnDemand's /rnode/HOST/PORT/ proxies one on the portal
// host, for sso.spec.ts: a page whose script registers a service worker for keyhatch's path,
// and the worker, served with `Service-Worker-Allowed: /` (which lets a worker's scope reach
// beyond its own directory, here over /keys/). Any other path is a plain page of its own. Plain
// HTTP on 127.0.0.1; prints `{"port": …}` once it listens, and nothing else on standard output.
import { createServer } from "node:http";

// The page reports in `window.attempt`: "registered SCOPE", or "refused NAME: MESSAGE".
const page = `<!doctype html>
<title>a person's own page</title>
<script>
window.attempt = navigator.serviceWorker
  .register(new URL("sw.js", location.href), { scope: "/keys/" })
  .then((r) => "registered " + r.scope, (e) => "refused " + e.name + ": " + e.message);
</script>
`;

// The worker takes over at once and sees every request of the pages it controls (a red team's
// would read the forms' passphrases on their way, or change the pages).
const worker = `self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
self.addEventListener("fetch", (event) => event.respondWith(fetch(event.request)));
`;

const server = createServer((request, answer) => {
  const path = new URL(request.url, "http://here").pathname;
  if (path.endsWith("/sw.js")) {
    answer.writeHead(200, { "Content-Type": "text/javascript", "Service-Worker-Allowed": "/", "Cache-Control": "no-store" });
    answer.end(worker);
  } else if (path.endsWith("/index.html")) {
    answer.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" });
    answer.end(page);
  } else {
    answer.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" });
    answer.end("<!doctype html><title>another page</title>\n");
  }
});
server.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ port: server.address().port })));

// Package console is cloakroom's web console, served on the admin listener under
// /console/: the approvals queue (approve once or for a while, deny), a live feed of
// intercepted requests with filters and each request's details (and its redacted
// prompt when capture is on), detection and decision statistics over the last hour
// drawn as inline SVG charts, and the setup of each agent.
//
// Pages are rendered on the server with html/template; a small script and style
// sheet are embedded in the binary (no CDN, no build step, works offline). The
// script only refreshes server-rendered fragments when the server announces a
// change over Server-Sent Events, so every value on a page passes through
// html/template's escaping. Responses forbid inline script and third-party origins
// (Content-Security-Policy default-src 'self') and framing.
//
// Approvers sign in with the admin token (the approvals API's Bearer credential).
// The session cookie holds a random id, never the token; it is HttpOnly and
// SameSite=Strict, and every POST also carries the session's CSRF token. Requests
// carrying agent credentials (Proxy-Authorization, X-Cloakroom-Agent) or a Via
// header are refused, as the approvals API refuses them.
//
// The console never imports package proxy: it declares what it needs (Approvals,
// Feed, Captures) and the proxy passes those in.
package console

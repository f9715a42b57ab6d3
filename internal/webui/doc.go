// Package webui is what the hub's and the nodes' web UIs share: signing in with a token
// kept in a cookie, CSRF protection, calling the server's own API in-process as the
// signed-in user, the page layout and style, the roster pages, and the embedded assets.
//
// The UI holds no authority of its own. Every page reads and writes through the same
// HTTP API a script uses, with the token the user pasted, so each role may do on a page
// exactly what it may do with curl: the API's own handlers make every check.
package webui

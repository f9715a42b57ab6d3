// Package edge is the HTTP edge hub and node share: one echo error handler that renders
// every error as RFC 9457 problem+json, strict bounded JSON decoding, bearer-token
// authentication, request logging, and a server that shuts down with its context.
package edge

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// New makes an echo instance with the project's error handler, panic recovery, request
// ids and one log line per request. rules maps each server's domain errors to answers.
func New(log *slog.Logger, rules []Rule) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = ErrorHandler(log, rules)
	e.Use(middleware.RequestID())
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisableStackAll: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			log.Error("panic", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err, "stack", string(stack))
			return err
		},
	}))
	e.Use(requestLog(log))
	return e
}

func requestLog(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			status := c.Response().Status
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelError
			}
			// One line per request. Never a header or the query: a token travels in
			// Authorization, and only the caller's name from it is logged.
			attrs := []any{
				"method", c.Request().Method,
				"route", Route(c),
				"path", c.Request().URL.Path,
				"status", status,
				"duration_ms", time.Since(start).Milliseconds(),
				"request_id", c.Response().Header().Get(echo.HeaderXRequestID),
			}
			if cl := Claims(c); cl != nil {
				attrs = append(attrs, "subject", cl.Subject, "role", string(cl.Role))
			}
			log.Log(c.Request().Context(), level, "request", attrs...)
			return nil
		}
	}
}

// limits bound what one connection may take of the server: how long it may spend sending
// its request headers (no slowloris), its whole request, receiving its answer, and idle
// between requests, and how large its headers may be. Serve applies serverLimits; the
// tests shorten the timeouts through serve.
type limits struct {
	readHeader, read, write, idle time.Duration
	maxHeaderBytes                int
}

var serverLimits = limits{
	readHeader:     10 * time.Second, // no slowloris
	read:           2 * time.Minute,
	write:          5 * time.Minute,
	idle:           2 * time.Minute,
	maxHeaderBytes: 64 << 10,
}

// streamStall is how long a streamed answer (Streaming) may wait on a reader that does
// not read before the server gives up on it. A variable only so tests need not wait.
var streamStall = 2 * time.Minute

// Streaming is w, the body of an answer that may outlast the server's write timeout (the
// whole roster as CSV at a million records takes minutes), for handlers to write through.
// Its writes move the connection's write deadline on to streamStall from then, so the
// answer is cut off by a reader that stops reading, never by its length. rw is the
// connection's http.ResponseWriter (echo's Response().Writer).
func Streaming(w io.Writer, rw http.ResponseWriter) io.Writer {
	return &streamWriter{w: w, rc: http.NewResponseController(rw)}
}

type streamWriter struct {
	w     io.Writer
	rc    *http.ResponseController
	moved time.Time // when the deadline was last moved
}

func (s *streamWriter) Write(p []byte) (int, error) {
	// Moved an eighth of the stall at a time, not on every write: a deadline costs a
	// timer update, and a CSV export makes a write every few kilobytes.
	if now := time.Now(); now.Sub(s.moved) >= streamStall/8 {
		s.moved = now
		if err := s.rc.SetWriteDeadline(now.Add(streamStall)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return 0, err
		}
	}
	return s.w.Write(p)
}

// Serve answers HTTP on ln until ctx ends, then shuts down gracefully, letting requests in
// flight finish for up to ten seconds.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	return serve(ctx, ln, h, log, serverLimits)
}

func serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger, lim limits) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: lim.readHeader,
		ReadTimeout:       lim.read,
		WriteTimeout:      lim.write,
		IdleTimeout:       lim.idle,
		MaxHeaderBytes:    lim.maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	done := make(chan error, 1)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		done <- srv.Shutdown(sctx)
	}()
	err := srv.Serve(ln)
	if !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return <-done
}

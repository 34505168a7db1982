package collectors

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"
)

// Reason is why a scrape failed, from a fixed set so that it can be a label
// and an alert can say why without anyone reading logs.
type Reason int

// The reasons, in the order they are exported.
const (
	ReasonTimeout Reason = iota
	ReasonRefused
	ReasonAuth
	ReasonTLS
	ReasonQuery
	ReasonProtocol
	// ReasonShutdown: headroom stopped waiting for the target because it
	// is shutting down, which says nothing about the target.
	ReasonShutdown
	numReasons
)

var reasonNames = [numReasons]string{"timeout", "refused", "auth", "tls", "query", "protocol", "shutdown"}

func (r Reason) String() string { return reasonNames[r] }

// reasonFor classifies a failure of a scrape run under ctx. The clients do
// not all keep a context's cause in the error they return, so a scrape
// that headroom cut short for shutdown is told apart by its context.
func reasonFor(ctx context.Context, err error) Reason {
	if shuttingDown(ctx) {
		return ReasonShutdown
	}
	return Classify(err)
}

// shuttingDown reports whether ctx was cut short because headroom is
// shutting down.
func shuttingDown(ctx context.Context) bool {
	return ctx.Err() != nil && errors.Is(context.Cause(ctx), ErrShutdown)
}

// Classify maps an error from any of the clients to a Reason.
func Classify(err error) Reason {
	if err == nil {
		return ReasonProtocol
	}
	if errors.Is(err, ErrShutdown) {
		return ReasonShutdown
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "28"): // invalid_authorization_specification, invalid_password
			return ReasonAuth
		case pgErr.Code == "57014": // query_canceled: statement_timeout or our own cancel
			return ReasonTimeout
		case strings.HasPrefix(pgErr.Code, "08"): // connection exceptions
			return ReasonRefused
		case pgErr.Code == "53300": // too_many_connections
			return ReasonRefused
		}
		return ReasonQuery
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || pgconn.Timeout(err) {
		return ReasonTimeout
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return ReasonTimeout
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) {
		return ReasonRefused
	}
	var (
		recordErr  tls.RecordHeaderError
		verifyErr  *tls.CertificateVerificationError
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalidErr x509.CertificateInvalidError
		alertErr   tls.AlertError
	)
	if errors.As(err, &recordErr) || errors.As(err, &verifyErr) || errors.As(err, &unknownCA) ||
		errors.As(err, &hostErr) || errors.As(err, &invalidErr) || errors.As(err, &alertErr) {
		return ReasonTLS
	}
	msg := err.Error()
	var redisErr redis.Error
	if errors.As(err, &redisErr) {
		// The server's error code leads its own message, not the wrapped one.
		code := redisErr.Error()
		if strings.HasPrefix(code, "WRONGPASS") || strings.HasPrefix(code, "NOAUTH") || strings.Contains(code, "invalid password") || strings.HasPrefix(code, "NOPERM") {
			return ReasonAuth
		}
		return ReasonQuery
	}
	// pgconn wraps server-side failures during connect in its own types;
	// what remains distinguishable only by text is matched last.
	switch {
	case strings.Contains(msg, "password authentication failed"), strings.Contains(msg, "no password supplied"):
		return ReasonAuth
	case strings.Contains(msg, "tls:"), strings.Contains(msg, "x509:"), strings.Contains(msg, "server refused TLS"):
		return ReasonTLS
	case strings.Contains(msg, "connection refused"):
		return ReasonRefused
	}
	return ReasonProtocol
}

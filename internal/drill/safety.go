package drill

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"time"
)

// Destination is where the drill may send: the target's host resolved
// once, every address checked, and the attacker pinned to those addresses
// so that a name that resolves elsewhere mid-run cannot redirect the load.
type Destination struct {
	// Host is the URL's host name, for TLS.
	Host string
	// Addrs are the checked addresses, with the port.
	Addrs []string
}

// Resolve resolves the target's host and refuses any address that is not
// loopback, private (RFC 1918) or unique-local (ULA) unless allowPublic:
// a drill is load, and a typo must not aim it at someone else's service.
func Resolve(ctx context.Context, target string, allowPublic bool) (Destination, error) {
	u, err := url.Parse(target)
	if err != nil {
		return Destination{}, fmt.Errorf("target.url: %w", err)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", u.Hostname())
	if err != nil {
		return Destination{}, fmt.Errorf("target.url %s: resolving %s: %w", target, u.Hostname(), err)
	}
	dest := Destination{Host: u.Hostname()}
	for _, ip := range ips {
		ip = ip.Unmap()
		if !allowPublic && !Allowed(ip) {
			return Destination{}, fmt.Errorf("target.url %s: %s resolves to %s, which is not loopback, RFC 1918 or ULA; "+
				"pass --allow-public-target to load it anyway", target, u.Hostname(), ip)
		}
		dest.Addrs = append(dest.Addrs, net.JoinHostPort(ip.String(), port))
	}
	if len(dest.Addrs) == 0 {
		return Destination{}, fmt.Errorf("target.url %s: %s resolves to no address", target, u.Hostname())
	}
	return dest, nil
}

// Allowed says whether an address is one a drill may load by default.
func Allowed(ip netip.Addr) bool {
	return ip.IsLoopback() || ip.IsPrivate()
}

// Reachable dials every address once, so that a refused connection is
// one clear error before the load rather than thousands of failed
// requests in the report.
func (d Destination) Reachable(ctx context.Context, target string) error {
	var dialer net.Dialer
	for _, addr := range d.Addrs {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, err := dialer.DialContext(ctx, "tcp", addr)
		cancel()
		if err != nil {
			return fmt.Errorf("target.url %s: unreachable at %s: %w", target, addr, err)
		}
		conn.Close()
	}
	return nil
}

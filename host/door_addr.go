package host

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// maxURLBytes caps a guest's URL.
const maxURLBytes = 8 << 10

// hostLabelRE is one label of a host name, as the version document accepts it in grants.
var hostLabelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// target is a guest URL after the door has parsed and canonicalized it: what the grants are matched against is
// exactly what is sent.
type target struct {
	u      *url.URL
	scheme string // "http" or "https"
	host   string // lowercase host name without a trailing dot, or a canonical IP address (IPv6 without brackets)
	port   int
	ip     netip.Addr // valid when host is an IP address
}

// path is what a receipt records of the URL: the escaped path, never the query or the fragment.
func (t target) path() string {
	p := t.u.EscapedPath()
	if p == "" {
		p = "/"
	}
	return p
}

// parseTarget parses and canonicalizes a guest URL. It refuses anything ambiguous rather than guessing what a
// resolver or a server would make of it: relative and opaque URLs, schemes other than http and https, user
// information, malformed host names, and IP addresses in any spelling but the canonical one (2130706433,
// 0177.0.0.1, 0x7f.1 and 127.1 all mean 127.0.0.1 to some resolver). The reason never repeats the URL, which
// may hold anything.
func parseTarget(raw string) (target, string) {
	if len(raw) > maxURLBytes {
		return target{}, fmt.Sprintf("URL longer than %d bytes", maxURLBytes)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, "malformed URL"
	}
	t := target{u: u, scheme: strings.ToLower(u.Scheme)}
	switch {
	case t.scheme != "http" && t.scheme != "https":
		return target{}, "scheme must be http or https"
	case u.Opaque != "" || u.Host == "":
		return target{}, "URL has no host"
	case u.User != nil:
		return target{}, "credentials in the URL are refused: send them in a header"
	}
	host, reason := canonicalHost(u.Hostname(), strings.HasPrefix(u.Host, "["))
	if reason != "" {
		return target{}, reason
	}
	t.host = host
	if ip, err := netip.ParseAddr(host); err == nil {
		t.ip = ip
	}
	t.port = defaultPort(t.scheme)
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return target{}, "port out of range"
		}
		t.port = n
	} else if strings.HasSuffix(u.Host, ":") {
		return target{}, "empty port"
	}
	// Send exactly what was checked.
	c := *u
	c.Scheme = t.scheme
	c.Host = hostPort(t.host, t.port, t.scheme)
	c.Fragment, c.RawFragment = "", ""
	t.u = &c
	return t, ""
}

func defaultPort(scheme string) int {
	if scheme == "http" {
		return 80
	}
	return 443
}

// hostPort is the URL authority for host and port, leaving out the scheme's default port.
func hostPort(host string, port int, scheme string) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == defaultPort(scheme) {
		return host
	}
	return host + ":" + strconv.Itoa(port)
}

// canonicalHost returns the canonical form of a URL's host name, or why it is refused. bracketed says the host
// was written as an IPv6 literal.
func canonicalHost(h string, bracketed bool) (string, string) {
	if bracketed {
		ip, err := netip.ParseAddr(h)
		if err != nil || !ip.Is6() {
			return "", "malformed IPv6 address"
		}
		if ip.Zone() != "" {
			return "", "IPv6 zones are refused"
		}
		return ip.String(), ""
	}
	h = strings.ToLower(h)
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return "", "malformed host name"
	}
	labels := strings.Split(h, ".")
	if endsInNumber(labels[len(labels)-1]) {
		ip, ok := parseIPv4Loose(h)
		if !ok {
			return "", "malformed IPv4 address"
		}
		if ip.String() != h {
			return "", "IP address " + ip.String() + " written in a non-canonical form"
		}
		return h, ""
	}
	for _, l := range labels {
		if !hostLabelRE.MatchString(l) {
			return "", "malformed host name"
		}
	}
	return h, ""
}

// endsInNumber reports whether a host's last label makes it an IPv4 address in the WHATWG URL standard's sense:
// all decimal digits, or 0x followed by hex digits.
func endsInNumber(label string) bool {
	if label == "" {
		return false
	}
	if allIn(label, "0123456789") {
		return true
	}
	if len(label) >= 2 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X') {
		return allIn(label[2:], "0123456789abcdefABCDEF")
	}
	return false
}

func allIn(s, set string) bool {
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(set, rune(s[i])) {
			return false
		}
	}
	return true
}

// parseIPv4Loose parses an IPv4 address the way inet_aton and the WHATWG URL standard do: one to four parts,
// each decimal, octal (leading 0) or hex (leading 0x), the last part filling the remaining bytes. So
// "2130706433", "0177.0.0.1", "0x7f.1" and "127.1" are all 127.0.0.1.
func parseIPv4Loose(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	nums := make([]uint64, len(parts))
	for i, p := range parts {
		base := 10
		switch {
		case len(p) >= 2 && (p[:2] == "0x" || p[:2] == "0X"):
			base, p = 16, p[2:]
			if p == "" {
				p = "0"
			}
		case len(p) >= 2 && p[0] == '0':
			base, p = 8, p[1:]
		}
		if p == "" {
			return netip.Addr{}, false
		}
		n, err := strconv.ParseUint(p, base, 64)
		if err != nil {
			return netip.Addr{}, false
		}
		nums[i] = n
	}
	last := len(nums) - 1
	for _, n := range nums[:last] {
		if n > 255 {
			return netip.Addr{}, false
		}
	}
	if nums[last] >= 1<<(8*(5-len(nums))) {
		return netip.Addr{}, false
	}
	v := nums[last]
	for i, n := range nums[:last] {
		v |= n << (8 * (3 - i))
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// addrRange is a range of addresses the door refuses to dial without an allowance.
type addrRange struct {
	prefix netip.Prefix
	what   string
}

// refusedRanges are checked in order; the first match names the reason. Cloud metadata addresses come before the
// ranges that hold them, so the reason is the precise one.
var refusedRanges = func() []addrRange {
	var rs []addrRange
	for _, r := range [][2]string{
		{"169.254.169.254/32", "cloud metadata"},
		{"fd00:ec2::254/128", "cloud metadata"},
		{"0.0.0.0/8", "unspecified"},
		{"10.0.0.0/8", "private"},
		{"100.64.0.0/10", "CGNAT"},
		{"127.0.0.0/8", "loopback"},
		{"169.254.0.0/16", "link-local"},
		{"172.16.0.0/12", "private"},
		{"192.0.0.0/24", "reserved"},
		{"192.0.2.0/24", "reserved"},
		{"192.88.99.0/24", "reserved"},
		{"192.168.0.0/16", "private"},
		{"198.18.0.0/15", "reserved"},
		{"198.51.100.0/24", "reserved"},
		{"203.0.113.0/24", "reserved"},
		{"224.0.0.0/4", "multicast"},
		{"255.255.255.255/32", "broadcast"},
		{"240.0.0.0/4", "reserved"},
		{"::/128", "unspecified"},
		{"::1/128", "loopback"},
		{"fc00::/7", "private"},
		{"fe80::/10", "link-local"},
		{"fec0::/10", "site-local"},
		{"ff00::/8", "multicast"},
	} {
		rs = append(rs, addrRange{netip.MustParsePrefix(r[0]), r[1]})
	}
	return rs
}()

var (
	globalUnicast6 = netip.MustParsePrefix("2000::/3")
	nat64          = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour      = netip.MustParsePrefix("2002::/16")
	teredo         = netip.MustParsePrefix("2001::/32")
	documentation6 = netip.MustParsePrefix("2001:db8::/32")
)

// refusedAddr returns why ip may not be dialed without an allowance ("" if it may): it is loopback, private,
// link-local, CGNAT, multicast, unspecified, broadcast, reserved or a cloud metadata address, or an IPv6 address
// outside global unicast, or one that embeds a refused IPv4 address (IPv4-mapped, NAT64, 6to4).
func refusedAddr(ip netip.Addr) string {
	ip = ip.WithZone("")
	if ip.Is4In6() {
		if r := refusedAddr(ip.Unmap()); r != "" {
			return r + " (IPv4-mapped)"
		}
		return ""
	}
	for _, r := range refusedRanges {
		if r.prefix.Contains(ip) {
			return r.what
		}
	}
	if ip.Is4() {
		return ""
	}
	b := ip.As16()
	switch {
	case nat64.Contains(ip):
		if r := refusedAddr(netip.AddrFrom4([4]byte(b[12:16]))); r != "" {
			return r + " (NAT64)"
		}
		return ""
	case sixToFour.Contains(ip):
		if r := refusedAddr(netip.AddrFrom4([4]byte(b[2:6]))); r != "" {
			return r + " (6to4)"
		}
		return ""
	case teredo.Contains(ip):
		return "Teredo"
	case documentation6.Contains(ip):
		return "reserved"
	case !globalUnicast6.Contains(ip):
		return "not global unicast"
	}
	return ""
}

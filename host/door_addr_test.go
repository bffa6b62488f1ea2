package host

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
)

func TestParseIPv4Loose(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" = not an address
	}{
		{"127.0.0.1", "127.0.0.1"},
		{"2130706433", "127.0.0.1"},
		{"0177.0.0.1", "127.0.0.1"},
		{"0x7f.1", "127.0.0.1"},
		{"0x7F.0.0.1", "127.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"127.0.1", "127.0.0.1"},
		{"0x7f000001", "127.0.0.1"},
		{"017700000001", "127.0.0.1"},
		{"0", "0.0.0.0"},
		{"0x", "0.0.0.0"},
		{"4294967295", "255.255.255.255"},
		{"4294967296", ""},
		{"256.0.0.1", ""},
		{"1.2.3.4.5", ""},
		{"1.2.3.256", ""},
		{"1.2.65536", ""},
		{"08.0.0.1", ""}, // 8 is not an octal digit
		{"1..2", ""},
		{"", ""},
		{"0xg", ""},
	}
	for _, tc := range tests {
		ip, ok := parseIPv4Loose(tc.in)
		got := ""
		if ok {
			got = ip.String()
		}
		if got != tc.want {
			t.Errorf("parseIPv4Loose(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRefusedAddr(t *testing.T) {
	tests := []struct {
		ip, want string
	}{
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"2606:4700:4700::1111", ""},
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"10.0.0.1", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"172.32.0.1", ""},
		{"192.168.1.1", "private"},
		{"169.254.1.1", "link-local"},
		{"169.254.169.254", "cloud metadata"},
		{"100.64.0.1", "CGNAT"},
		{"100.127.255.255", "CGNAT"},
		{"100.128.0.1", ""},
		{"0.0.0.0", "unspecified"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"255.255.255.255", "broadcast"},
		{"240.0.0.1", "reserved"},
		{"::", "unspecified"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback (IPv4-mapped)"},
		{"::ffff:10.0.0.1", "private (IPv4-mapped)"},
		{"::ffff:8.8.8.8", ""},
		{"::127.0.0.1", "not global unicast"}, // IPv4-compatible
		{"fc00::1", "private"},
		{"fd12:3456::1", "private"},
		{"fd00:ec2::254", "cloud metadata"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"ff02::1", "multicast"},
		{"64:ff9b::7f00:1", "loopback (NAT64)"},
		{"64:ff9b::808:808", ""},
		{"2002:7f00:1::", "loopback (6to4)"},
		{"2002:808:808::", ""},
		{"2001::1", "Teredo"},
		{"2001:db8::1", "reserved"},
		{"100::1", "not global unicast"},
	}
	for _, tc := range tests {
		if got := refusedAddr(netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("refusedAddr(%s): got %q, want %q", tc.ip, got, tc.want)
		}
	}
}

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in                   string
		scheme, host, url    string
		port                 int
		reason               string // substring of the refusal; "" = accepted
		wantPath, wantNoPath string
	}{
		{in: "https://API.Example.com./v1/x?q=secret#f", scheme: "https", host: "api.example.com", port: 443,
			url: "https://api.example.com/v1/x?q=secret", wantPath: "/v1/x"},
		{in: "HTTP://example.com:80", scheme: "http", host: "example.com", port: 80, url: "http://example.com",
			wantPath: "/"},
		{in: "http://example.com:8080/a%2Fb", scheme: "http", host: "example.com", port: 8080,
			url: "http://example.com:8080/a%2Fb", wantPath: "/a%2Fb"},
		{in: "https://[2606:4700::1111]/", scheme: "https", host: "2606:4700::1111", port: 443,
			url: "https://[2606:4700::1111]/"},
		{in: "http://[::FFFF:127.0.0.1]:81/", scheme: "http", host: "::ffff:127.0.0.1", port: 81,
			url: "http://[::ffff:127.0.0.1]:81/"},
		{in: "http://127.0.0.1/", scheme: "http", host: "127.0.0.1", port: 80, url: "http://127.0.0.1/"},
		{in: "http://2130706433/", reason: "non-canonical"},
		{in: "http://0x7f.1/", reason: "non-canonical"},
		{in: "http://127.000.000.001/", reason: "non-canonical"},
		{in: "http://1.2.3.4.5/", reason: "malformed IPv4"},
		{in: "http://example.123/", reason: "malformed IPv4"},
		{in: "http://exa_mple.com/", reason: "malformed host"},
		{in: "http://ex%41mple.com/", reason: "malformed"},
		{in: "http://bücher.de/", reason: "malformed host"},
		{in: "http://a..b/", reason: "malformed host"},
		{in: "http://example.com:0/", reason: "port out of range"},
		{in: "http://example.com:65536/", reason: "port out of range"},
		{in: "http://example.com:/", reason: "empty port"},
		{in: "http://u:p@example.com/", reason: "credentials"},
		{in: "http://@example.com/", reason: "credentials"},
		{in: "file:///etc/passwd", reason: "scheme"},
		{in: "gopher://example.com/", reason: "scheme"},
		{in: "http:example.com", reason: "no host"},
		{in: "//example.com/", reason: "scheme"},
		{in: "http://[fe80::1%25eth0]/", reason: "zones"},
		{in: "http://[127.0.0.1]/", reason: "malformed"},
		{in: "http://" + strings.Repeat("a", 9000) + ".com/", reason: "longer than"},
	}
	for _, tc := range tests {
		got, reason := parseTarget(tc.in)
		if tc.reason != "" {
			if !strings.Contains(reason, tc.reason) {
				t.Errorf("parseTarget(%q): got reason %q, want %q", tc.in, reason, tc.reason)
			}
			if strings.Contains(reason, "://") {
				t.Errorf("parseTarget(%q): the reason repeats the URL: %q", tc.in, reason)
			}
			continue
		}
		if reason != "" {
			t.Errorf("parseTarget(%q): refused: %s", tc.in, reason)
			continue
		}
		if got.scheme != tc.scheme || got.host != tc.host || got.port != tc.port || got.u.String() != tc.url {
			t.Errorf("parseTarget(%q): got %s %s %d %s, want %s %s %d %s", tc.in, got.scheme, got.host, got.port,
				got.u.String(), tc.scheme, tc.host, tc.port, tc.url)
		}
		if tc.wantPath != "" && got.path() != tc.wantPath {
			t.Errorf("parseTarget(%q).path(): got %q, want %q", tc.in, got.path(), tc.wantPath)
		}
	}
}

func TestGrants_Allows(t *testing.T) {
	g := normalizePolicy(Policy{HTTP: []HTTPGrant{
		{Host: "api.example.com", Methods: []string{"post"}},
		{Host: "*.cdn.example", Scheme: "http", Ports: []int{80, 8080}},
		{Host: "*.0.1", Scheme: "http"},
		{Host: "bad", Scheme: "ftp"},
	}})
	tests := []struct {
		url, method, reason string
	}{
		{"https://api.example.com/x", "POST", ""},
		{"https://api.example.com/x", "GET", "method GET"},
		{"http://api.example.com/x", "POST", "scheme http"},
		{"https://api.example.com:8443/x", "POST", "port 8443"},
		{"https://evil-api.example.com/", "POST", "not granted"},
		{"https://example.com/", "POST", "not granted"},
		{"http://a.cdn.example/", "GET", ""},
		{"http://a.b.cdn.example:8080/", "DELETE", ""},
		{"http://cdn.example/", "GET", "not granted"},
		{"http://xcdn.example/", "GET", "not granted"},
		{"http://127.0.0.1/", "GET", "not granted"}, // a wildcard never matches an address
		{"ftp://bad/", "GET", "skip"},
	}
	for _, tc := range tests {
		tg, reason := parseTarget(tc.url)
		if reason != "" {
			if tc.reason != "skip" {
				t.Errorf("%s: %s", tc.url, reason)
			}
			continue
		}
		got := g.allows(tg, tc.method)
		if (tc.reason == "") != (got == "") || !strings.Contains(got, tc.reason) {
			t.Errorf("allows(%s %s): got %q, want %q", tc.method, tc.url, got, tc.reason)
		}
	}
}

func TestSubstitute(t *testing.T) {
	lookup := func(name string) ([]byte, string) {
		if name == "NO" {
			return nil, "refused"
		}
		return []byte("<" + name + ">"), ""
	}
	tests := []struct{ in, out, reason string }{
		{"plain", "plain", ""},
		{"a{{secret:K}}b{{secret:L_2}}", "a<K>b<L_2>", ""},
		{"{{secret:K}}{{secret:K}}", "<K><K>", ""},
		{"{{secret:NO}}", "", "refused"},
		{"{{secret:K", "", "malformed"},
		{"{{secret:}}", "", "malformed"},
		{"{{secret:a b}}", "", "malformed"},
		{"{{secret:9x}}", "", "malformed"},
		{"{{ secret:K }}", "{{ secret:K }}", ""},
	}
	for _, tc := range tests {
		out, _, reason := substitute([]byte(tc.in), lookup)
		if string(out) != tc.out || !strings.Contains(reason, tc.reason) || (tc.reason == "") != (reason == "") {
			t.Errorf("substitute(%q): got %q %q, want %q %q", tc.in, out, reason, tc.out, tc.reason)
		}
	}
}

func TestVault_MaskForms(t *testing.T) {
	val := `a/b+c&d<e>"f`
	v := newVault(map[string][]byte{"K": []byte(val)})
	for _, form := range valueForms([]byte(val)) {
		out := string(v.mask([]byte("x" + form + "y")))
		if out != "x{{secret:K}}y" {
			t.Errorf("form %q: got %q", form, out)
		}
	}
	var nilVault *vault
	if got := nilVault.mask([]byte("x")); string(got) != "x" {
		t.Errorf("nil vault: got %q", got)
	}
}

// FuzzParseTarget checks the URL normalizer on arbitrary input: it never panics, and whatever it accepts is
// canonical and stable — parsing the URL it would send gives the same scheme, host and port, the host is one the
// normalizer itself accepts unchanged, and an accepted IPv4 address is in its one canonical spelling.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"https://api.example.com/x?q=1", "http://2130706433/", "http://0x7f.1/",
		"http://[::ffff:127.0.0.1]:80/", "http://127.0.0.1:8080/a%2Fb", "http://u:p@h/", "http://h:/",
		"HTTP://A.B.", "http://1.2.3.4.5/", "http://[fe80::1%25x]/", "https://xn--bcher-kva.de/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		tg, reason := parseTarget(raw)
		if reason != "" {
			if tg.u != nil {
				t.Fatalf("refused with a target: %q", raw)
			}
			return
		}
		if tg.scheme != "http" && tg.scheme != "https" || tg.port < 1 || tg.port > 65535 || tg.u.User != nil {
			t.Fatalf("accepted %q as %+v", raw, tg)
		}
		again, r2 := parseTarget(tg.u.String())
		if r2 != "" || again.host != tg.host || again.port != tg.port || again.scheme != tg.scheme {
			t.Fatalf("not stable: %q → %q → %q (%s)", raw, tg.u.String(), again.host, r2)
		}
		if tg.ip.IsValid() {
			if tg.ip.String() != tg.host {
				t.Fatalf("address host %q is not canonical (%s)", tg.host, tg.ip)
			}
		} else if ip, ok := parseIPv4Loose(tg.host); ok {
			t.Fatalf("host %q is the address %s in another spelling", tg.host, ip)
		}
		if tg.host != strings.ToLower(tg.host) || strings.HasSuffix(tg.host, ".") {
			t.Fatalf("host %q not canonical", tg.host)
		}
	})
}

// FuzzGrantMatch checks the grant matcher: an exact grant matches only its own host; a wildcard matches only
// strict subdomains and never an address; matching is insensitive to case and a trailing dot in the URL.
func FuzzGrantMatch(f *testing.F) {
	f.Add("api.example.com", "api.example.com")
	f.Add("*.example.com", "a.example.com")
	f.Add("*.example.com", "example.com")
	f.Add("*.0.1", "127.0.0.1")
	f.Add("*.com", "evil-example.com")
	f.Fuzz(func(t *testing.T, pattern, host string) {
		tg, reason := parseTarget("https://" + host + "/")
		if reason != "" {
			return
		}
		g := normalizePolicy(Policy{HTTP: []HTTPGrant{{Host: pattern}}})
		ok := g.allows(tg, "GET") == ""
		p := strings.TrimSuffix(strings.ToLower(pattern), ".")
		suffix, wild := strings.CutPrefix(p, "*.")
		var want bool
		switch {
		case p == "":
			want = false
		case wild:
			want = !tg.ip.IsValid() && len(tg.host) > len(suffix)+1 && strings.HasSuffix(tg.host, "."+suffix)
		default:
			want = tg.host == p
		}
		if ok != want {
			t.Fatalf("grant %q, host %q (%q): got %v, want %v", pattern, host, tg.host, ok, want)
		}
		up, _ := parseTarget("https://" + strings.ToUpper(host) + "./")
		if up.u != nil && (g.allows(up, "GET") == "") != ok {
			t.Fatalf("case or trailing dot changed the decision for %q", host)
		}
	})
}

// FuzzMask checks that masking removes every occurrence of a value from a response, whatever surrounds it (for
// values that cannot be rebuilt from the placeholder's own text).
func FuzzMask(f *testing.F) {
	f.Add([]byte("token=sk_live_123; again sk_live_123"), []byte("sk_live_123"))
	f.Add([]byte(`{"k":"a\/b"}`), []byte("a/b"))
	f.Fuzz(func(t *testing.T, body, val []byte) {
		if len(val) == 0 || bytes.ContainsAny(val, "{}") || strings.Contains("secret:K", string(val)) {
			return
		}
		v := newVault(map[string][]byte{"K": val})
		out := v.mask(bytes.Clone(body))
		if bytes.Contains(out, val) {
			t.Fatalf("mask(%q) with value %q left it: %q", body, val, out)
		}
	})
}

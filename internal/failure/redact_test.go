package failure

import "testing"

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://proxy.test/", "https://proxy.test/"},
		{"https://ann:pw@proxy.test/go", "https://xxxxx@proxy.test/go"},
		{"https://tok@proxy.test", "https://xxxxx@proxy.test"},
		// Every element of a GOPROXY list, whatever separates them.
		{"https://a:pw1@p1.test,https://b:pw2@p2.test|direct", "https://xxxxx@p1.test,https://xxxxx@p2.test|direct"},
		// An unescaped @ in the password, and text around the URL.
		{`fetching "http://ann:p@ss@m.test:8080/x": refused`, `fetching "http://xxxxx@m.test:8080/x": refused`},
		{"GOPROXY=https://ann:pw@p.test GOSUMDB=sum.test+key https://b:pw@s.test", "GOPROXY=https://xxxxx@p.test GOSUMDB=sum.test+key https://xxxxx@s.test"},
		// The placeholder of gostrap's own hints stays readable.
		{"set HTTPS_PROXY=http://USER:PASS@proxy:3128", "set HTTPS_PROXY=http://USER:PASS@proxy:3128"},
		// An e-mail address is no URL.
		{"mail ann@example.test", "mail ann@example.test"},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"ann:pw@proxy.test:3128", "xxxxx@proxy.test:3128"},
		{"http://ann:pw@proxy.test:3128", "http://xxxxx@proxy.test:3128"},
		{"socks5://ann:pw@proxy.test:1080", "socks5://xxxxx@proxy.test:1080"},
		{"proxy.test:3128", "proxy.test:3128"},
	} {
		if got := RedactProxy(tc.in); got != tc.want {
			t.Errorf("RedactProxy(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

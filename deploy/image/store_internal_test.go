package image

import (
	"net/http"
	"strings"
	"testing"
)

type countingTransport struct{ calls int }

func (c *countingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	c.calls++
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
}

// TestTLSOnly: without Insecure, plain HTTP goes to loopback registries
// only; the refused request never reaches the network (no address outside
// loopback is contacted: the transport below is a counter).
func TestTLSOnly(t *testing.T) {
	cases := []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:5000/v2/", true},
		{"http://127.9.9.9/v2/", true},
		{"http://localhost:5000/v2/", true},
		{"http://[::1]:5000/v2/", true},
		{"https://registry.example.com/v2/", true},
		{"https://10.1.2.3/v2/", true},
		{"http://10.1.2.3:5000/v2/", false},
		{"http://192.168.1.2/v2/", false},
		{"http://registry.local/v2/", false},
		{"http://registry.example.com/v2/", false},
		{"http://localhost.example.com/v2/", false},
	}
	for _, c := range cases {
		next := &countingTransport{}
		req, err := http.NewRequest(http.MethodGet, c.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tlsOnly{next}.RoundTrip(req)
		if c.ok && (err != nil || next.calls != 1) {
			t.Errorf("%s: %v, %d calls; want it passed on", c.url, err, next.calls)
		}
		if !c.ok && (err == nil || next.calls != 0 || !strings.Contains(err.Error(), "plain HTTP")) {
			t.Errorf("%s: %v, %d calls; want it refused before the network", c.url, err, next.calls)
		}
	}
}

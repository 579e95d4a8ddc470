package admin

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestCaptureAPI: a capture that times out before any packet is a valid
// pcapng file with its interfaces and no packets (trailers say 0 and 0); a
// second capture of the same interface while one runs is refused with
// 409; bad requests are 400 and unknown interfaces 404, before anything
// is streamed.
func TestCaptureAPI(t *testing.T) {
	_, _, dir := startAPI(t, Options{})
	c := NewClient(filepath.Join(dir, "admin.sock"), "")
	ctx := context.Background()

	var buf bytes.Buffer
	res, err := c.Capture(ctx, "t", "memif0", CaptureRequest{Rx: true, Drop: true, Count: 5, TimeoutMS: 100}, &buf)
	if err != nil || res != (CaptureResult{}) {
		t.Fatalf("capture: %+v %v", res, err)
	}
	// A section header and two interface blocks.
	if b := buf.Bytes(); len(b) < 12 || !bytes.Equal(b[:4], []byte{0x0a, 0x0d, 0x0d, 0x0a}) || bytes.Count(b, []byte("t/memif0 ")) != 2 {
		t.Fatalf("capture file %x", b)
	}

	// The first capture is on the interface once its file header arrives.
	started := &signalWriter{c: make(chan struct{})}
	running := make(chan error, 1)
	go func() {
		_, err := c.Capture(ctx, "t", "memif0", CaptureRequest{Tx: true, Count: 1, TimeoutMS: 500}, started)
		running <- err
	}()
	select {
	case <-started.c:
	case <-time.After(5 * time.Second):
		t.Fatal("first capture never started")
	}
	var apiErr *APIError
	if _, err := c.Capture(ctx, "t", "memif0", CaptureRequest{Tx: true, Count: 1, TimeoutMS: 1}, &bytes.Buffer{}); !errors.As(err, &apiErr) || apiErr.Status != http.StatusConflict {
		t.Fatalf("second capture while one runs: %v, want 409", err)
	}
	if err := <-running; err != nil {
		t.Fatalf("first capture: %v", err)
	}
	// Ended, it leaves the interface.
	if _, err := c.Capture(ctx, "t", "memif0", CaptureRequest{Tx: true, Count: 1, TimeoutMS: 1}, &bytes.Buffer{}); err != nil {
		t.Fatalf("capture after the first ended: %v", err)
	}

	for _, tc := range []struct {
		req    CaptureRequest
		iface  string
		status int
	}{
		{CaptureRequest{Count: 1}, "memif0", http.StatusBadRequest},
		{CaptureRequest{Rx: true, Count: 0}, "memif0", http.StatusBadRequest},
		{CaptureRequest{Rx: true, Count: 1, TimeoutMS: -1}, "memif0", http.StatusBadRequest},
		{CaptureRequest{Rx: true, Count: 1, TimeoutMS: MaxCaptureTimeout.Milliseconds() + 1}, "memif0", http.StatusBadRequest},
		{CaptureRequest{Rx: true, Count: 1}, "nope", http.StatusNotFound},
	} {
		var out bytes.Buffer
		_, err := c.Capture(ctx, "t", tc.iface, tc.req, &out)
		if !errors.As(err, &apiErr) || apiErr.Status != tc.status || out.Len() != 0 {
			t.Errorf("capture %+v on %s: %v (%d bytes), want status %d", tc.req, tc.iface, err, out.Len(), tc.status)
		}
	}
}

// TestTraceRuntimeAPI: trace add validates its count and names the
// interface; runtime and its clear answer.
func TestTraceRuntimeAPI(t *testing.T) {
	_, _, dir := startAPI(t, Options{})
	c := NewClient(filepath.Join(dir, "admin.sock"), "")
	ctx := context.Background()
	var apiErr *APIError
	if err := c.AddTrace(ctx, "t", "memif0", 0); !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest {
		t.Errorf("trace of 0: %v", err)
	}
	if err := c.AddTrace(ctx, "t", "nope", 1); !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound {
		t.Errorf("trace of an unknown interface: %v", err)
	}
	if err := c.AddTrace(ctx, "t", "memif0", 2); err != nil {
		t.Fatal(err)
	}
	views, err := c.Traces(ctx)
	if err != nil || len(views) != 1 || views[0].Pending != 2 {
		t.Fatalf("traces %+v %v", views, err)
	}
	since, err := c.ClearRuntime(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := c.Runtime(ctx)
	if err != nil || !rt.Since.Equal(since) || len(rt.Workers) != 1 {
		t.Fatalf("runtime %+v %v", rt, err)
	}
}

// plainBackend is a Backend without the views.
type plainBackend struct{ Backend }

// TestViewsWithoutViewBackend: a backend without the views answers them
// with 501, not a panic.
func TestViewsWithoutViewBackend(t *testing.T) {
	s := &Server{b: plainBackend{}, opts: Options{Logger: quiet()}}
	for _, r := range []struct{ method, path string }{{"GET", "/v1/runtime"}, {"GET", "/v1/trace"}, {"POST", "/v1/runtime/clear"}} {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(r.method, r.path, nil))
		if rec.Code != http.StatusNotImplemented {
			t.Errorf("%s %s: %d", r.method, r.path, rec.Code)
		}
	}
}

// signalWriter closes c at its first write.
type signalWriter struct {
	c    chan struct{}
	once sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.c) })
	return len(p), nil
}

// TestCaptureInterrupted: a capture whose client gives up keeps what
// arrived, says it was interrupted, and leaves the interface free.
func TestCaptureInterrupted(t *testing.T) {
	_, _, dir := startAPI(t, Options{})
	c := NewClient(filepath.Join(dir, "admin.sock"), "")
	ctx, cancel := context.WithCancel(context.Background())
	started := &signalWriter{c: make(chan struct{})}
	done := make(chan CaptureResult, 1)
	go func() {
		res, err := c.Capture(ctx, "t", "memif0", CaptureRequest{Rx: true, Count: 10}, started)
		if err != nil {
			t.Errorf("interrupted capture: %v", err)
		}
		done <- res
	}()
	<-started.c
	cancel()
	if res := <-done; !res.Interrupted {
		t.Errorf("result %+v, want interrupted", res)
	}
	// The daemon notices the client is gone and takes the capture off.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, err := c.Capture(context.Background(), "t", "memif0", CaptureRequest{Rx: true, Count: 1, TimeoutMS: 1}, &bytes.Buffer{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("capture after an interrupted one: %v", err)
		}
	}
}

package poefake

import (
	"net/http"
	"strings"
	"sync"
	"time"
)

// bufPool recycles the per-request encode buffer so that a stream costs no
// allocation per event.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// stream plays one script into one response, in the handler's goroutine.
type stream struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	sep    string
	buf    []byte
	gone   <-chan struct{} // client went away
	closed <-chan struct{} // Server.Close
	tick   <-chan time.Time
	timer  *time.Timer
}

// play runs script. It returns a description of a script error, if any.
func (s *Server) play(w http.ResponseWriter, r *http.Request, script Script) (scriptErr string) {
	st := stream{
		w:      w,
		rc:     http.NewResponseController(w),
		sep:    s.Framing().sep(),
		gone:   r.Context().Done(),
		closed: s.closed,
	}
	bp := bufPool.Get().(*[]byte)
	st.buf = (*bp)[:0]
	defer func() {
		if cap(st.buf) <= 64<<10 { // do not pin huge buffers
			*bp = st.buf[:0]
			bufPool.Put(bp)
		}
		if st.timer != nil {
			st.timer.Stop()
		}
	}()

	if len(script) > 0 && script[0].kind == kindStatus {
		if !st.status(script[0]) {
			return ""
		}
		script = script[1:]
	} else {
		h := w.Header()
		h["Content-Type"] = []string{"text/event-stream; charset=utf-8"}
		h["Cache-Control"] = []string{"no-store"}
		h["Connection"] = []string{"keep-alive"}
		h["X-Accel-Buffering"] = []string{"no"}
		w.WriteHeader(http.StatusOK)
		// Headers go out at once, as with sse-starlette: a client sees the
		// 200 even if the first event never comes (Stall-first).
		if st.rc.Flush() != nil {
			return ""
		}
		if d := s.opts.PingInterval; d > 0 {
			t := time.NewTicker(d)
			defer t.Stop()
			st.tick = t.C
		}
	}

	for _, step := range script {
		ok := true
		switch step.kind {
		case kindEvent:
			st.buf = appendEvent(st.buf[:0], st.sep, step.event, step.data)
			ok = st.flush()
		case kindPing:
			ok = st.ping()
		case kindRaw:
			st.buf = append(st.buf[:0], step.data...)
			ok = st.flush()
		case kindSleep:
			if step.d > 0 {
				if st.timer == nil {
					st.timer = time.NewTimer(step.d)
				} else {
					st.timer.Reset(step.d)
				}
				ok = st.block(st.timer.C, nil)
			}
		case kindWait:
			ok = st.block(nil, step.ch)
		case kindHang:
			st.block(nil, nil)
			return ""
		case kindStatus:
			return "Status step is only valid as the first step of a script"
		}
		if !ok {
			return ""
		}
		// A periodic ping that fell due while writing goes out between steps,
		// as sse-starlette's separate ping task would.
		select {
		case <-st.tick:
			if !st.ping() {
				return ""
			}
		default:
		}
	}
	return ""
}

// status writes a non-SSE answer.
func (st *stream) status(step Step) bool {
	h := st.w.Header()
	for k, v := range step.header {
		h[k] = v
	}
	if h.Get("Content-Type") == "" && step.data != "" {
		if strings.HasPrefix(step.data, "{") {
			h.Set("Content-Type", "application/json")
		} else {
			h.Set("Content-Type", "text/plain; charset=utf-8")
		}
	}
	st.w.WriteHeader(step.code)
	st.buf = append(st.buf[:0], step.data...)
	return st.flush()
}

func (st *stream) flush() bool {
	if len(st.buf) > 0 {
		if _, err := st.w.Write(st.buf); err != nil {
			return false
		}
	}
	return st.rc.Flush() == nil
}

func (st *stream) ping() bool {
	st.buf = appendPing(st.buf[:0], st.sep, time.Now())
	return st.flush()
}

// block waits for timer or ch (either may be nil), sending periodic pings
// meanwhile. It reports false when the client went away or the server closed.
func (st *stream) block(timer <-chan time.Time, ch <-chan struct{}) bool {
	for {
		select {
		case <-timer:
			return true
		case <-ch:
			return true
		case <-st.gone:
			return false
		case <-st.closed:
			return false
		case <-st.tick:
			if !st.ping() {
				return false
			}
		}
	}
}

// Package redistest runs a real redis-server for the Redis tests and the
// benchmark: on a free loopback port, without persistence, so that tests
// exercise the server the module talks to in production, not a mock.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Installed reports whether redis-server is on PATH.
func Installed() bool {
	_, err := exec.LookPath("redis-server")
	return err == nil
}

// Run starts redis-server on 127.0.0.1:port without persistence and
// returns once its log says it accepts connections (no polling). setup,
// when set, adjusts the command before it starts.
func Run(port int, setup func(*exec.Cmd)) (*exec.Cmd, error) {
	cmd := exec.Command("redis-server", "--port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--loglevel", "notice", "--daemonize", "no")
	if setup != nil {
		setup(cmd)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Ready to accept connections") {
				close(ready)
				break
			}
		}
		_, _ = io.Copy(io.Discard, out) // keep draining so the server never blocks on its log
	}()
	select {
	case <-ready:
		return cmd, nil
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait() // killed: its exit status says nothing
		return nil, errors.New("redis-server did not become ready in 20 s")
	}
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Server is a redis-server owned by one test; it can be killed and started
// again on the same port to play an outage.
type Server struct {
	Port int
	tb   testing.TB
	mu   sync.Mutex
	cmd  *exec.Cmd
}

// Start starts a redis-server for tb, stopped when tb ends. The test is
// skipped only when the binary is not installed (CI installs it: see
// .ci/run).
func Start(tb testing.TB) *Server {
	tb.Helper()
	if !Installed() {
		tb.Skip("redis-server is not installed (apt-get install redis-server); skipping the Redis tests")
	}
	port, err := freePort()
	if err != nil {
		tb.Fatal(err)
	}
	s := &Server{Port: port, tb: tb}
	s.Start()
	tb.Cleanup(s.Kill)
	return s
}

// URL is the server's redis:// URL, database 0.
func (s *Server) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.Port) }

// Start (re)starts the server on its port.
func (s *Server) Start() {
	s.tb.Helper()
	cmd, err := Run(s.Port, nil)
	if err != nil {
		s.tb.Fatal(err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
}

// Kill stops the server at once (SIGKILL, as a crash would) and waits for
// it to exit.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait() // killed: its exit status says nothing
	}
}

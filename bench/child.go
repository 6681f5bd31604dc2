package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/poe-openai/caddy-poe-openai"

	"github.com/poe-openai/caddy-poe-openai/internal/poefake"
)

// childMain runs the hidden subcommands the harness starts itself with:
//
//	bench caddy run --config <file> --adapter caddyfile
//	bench fake -poe <addr> -openai <addr>
//
// It reports false if args name no subcommand.
func childMain(args []string) (handled bool, code int) {
	if len(args) == 0 {
		return false, 0
	}
	switch args[0] {
	case "caddy":
		go exitWithParent()
		// For -pprof runs: a finer heap profile than Go's default of one
		// sample per 512 KB.
		if rate, err := strconv.Atoi(os.Getenv("BENCH_MEMPROFILERATE")); err == nil && rate > 0 {
			runtime.MemProfileRate = rate
		}
		os.Args = append([]string{"caddy"}, args[1:]...)
		caddycmd.Main()
		return true, 0
	case "fake":
		go exitWithParent()
		if err := runFake(args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench fake:", err)
			return true, 1
		}
		return true, 0
	}
	return false, 0
}

// exitWithParent ends the child when the harness is gone (Pdeathsig
// covers most cases, but it follows the thread, not the process).
func exitWithParent() {
	ppid := os.Getppid()
	for range time.Tick(500 * time.Millisecond) {
		if os.Getppid() != ppid {
			os.Exit(2)
		}
	}
}

// runFake serves the fake Poe and the OpenAI mirror on their own listeners.
func runFake(args []string) error {
	fs := flag.NewFlagSet("fake", flag.ContinueOnError)
	poeAddr := fs.String("poe", "127.0.0.1:0", "fake Poe listen address")
	openaiAddr := fs.String("openai", "127.0.0.1:0", "OpenAI mirror listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	fake := poefake.New(poefake.Options{MaxRecords: 256, Lean: true})
	mirror := poefake.NewOpenAIMirror()
	// The fake also keeps every request's start time per token, which a
	// long run would grow by millions of pointerful entries, slowing its GC
	// as the run goes on (and so the module and direct paths, not the
	// mirror). Nobody reads them here: drop them regularly.
	go func() {
		for range time.Tick(2 * time.Second) {
			fake.Reset()
		}
	}()
	errc := make(chan error, 2)
	for _, s := range []struct {
		addr string
		h    http.Handler
	}{{*poeAddr, fake}, {*openaiAddr, mirror}} {
		ln, err := net.Listen("tcp", s.addr)
		if err != nil {
			return err
		}
		// HTTP/1.1, and cleartext HTTP/2 with prior knowledge: the stand-in
		// for api.poe.com's HTTP/2 over TLS in the open-streams scenario.
		srv := &http.Server{Handler: s.h, ReadHeaderTimeout: 10 * time.Second, Protocols: new(http.Protocols)}
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
		go func() { errc <- srv.Serve(ln) }()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case err := <-errc:
		return err
	case <-sig:
		fake.Close()
		mirror.Close()
		return nil
	}
}

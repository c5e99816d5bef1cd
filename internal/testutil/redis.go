// Package testutil holds test helpers shared by cloakroom's packages: a throwaway
// redis-server per test.
package testutil

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisReadyTimeout bounds the wait for a started redis-server to answer PING.
const redisReadyTimeout = 10 * time.Second

// Redis returns a client to a real Redis for the test, and a key prefix unique to the
// test. It uses REDIS_ADDR if set (and deletes the test's keys at cleanup); otherwise
// it starts a throwaway redis-server from PATH on a free loopback port, without
// persistence, and stops it at cleanup. Without redis-server it skips the test, or
// fails it when CI=true, so CI can never pass without Redis.
func Redis(t testing.TB) (client *redis.Client, prefix string) {
	t.Helper()
	prefix = keyPrefix(t)
	if addr := os.Getenv("REDIS_ADDR"); addr != "" {
		client = redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() {
			deleteKeys(t, client, prefix)
			_ = client.Close()
		})
		if err := client.Ping(context.Background()).Err(); err != nil {
			t.Fatalf("REDIS_ADDR=%s: %v", addr, err)
		}
		return client, prefix
	}
	srv := startServer(t)
	return srv.Client(t), prefix
}

// RedisServer starts a throwaway redis-server like Redis does (ignoring REDIS_ADDR,
// since the test needs to stop and start it) and returns its handle, a client to it
// and a unique key prefix. The server is stopped at cleanup.
func RedisServer(t testing.TB) (srv *Server, client *redis.Client, prefix string) {
	t.Helper()
	srv = startServer(t)
	return srv, srv.Client(t), keyPrefix(t)
}

// Server is a redis-server process that a test can stop and start again on the same
// port, to simulate an outage. It keeps no data across Stop: restart means empty. It
// is safe for concurrent use.
type Server struct {
	t     testing.TB
	bin   string
	addr  string
	dir   string
	extra []string // more arguments, after the defaults

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd exits
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return s.addr }

// Client returns a new client to the server, closed at the end of the test.
func (s *Server) Client(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Stop kills the server and waits for it to exit. Stopping a stopped server does
// nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Start starts the server again on its port and waits until it answers PING. It
// fails the test if it cannot. Starting a running server does nothing.
func (s *Server) Start() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatalf("restart redis-server on %s: %v", s.addr, err)
	}
}

func startServer(t testing.TB, extra ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server not in PATH (install it or set REDIS_ADDR); CI=true: Redis tests must run")
		}
		t.Skip("redis-server not in PATH (install it or set REDIS_ADDR)")
	}
	var last error
	for range 3 { // a free port can be taken between finding and binding it
		port, err := freePort()
		if err != nil {
			t.Fatalf("find a free port: %v", err)
		}
		s := &Server{t: t, bin: bin, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: t.TempDir(), extra: extra}
		if last = s.start(); last == nil {
			t.Cleanup(s.Stop)
			return s
		}
	}
	t.Fatalf("start redis-server: %v", last)
	return nil
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	_, port, _ := net.SplitHostPort(s.addr)
	cmd := exec.Command(s.bin,
		"--port", port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no",
		"--dir", s.dir, "--loglevel", "warning")
	cmd.Args = append(cmd.Args, s.extra...)
	out := new(bytes.Buffer) // read only after the process exits
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	if err := waitReady(s.addr, done); err != nil {
		_ = cmd.Process.Kill()
		<-done
		return errors.New(err.Error() + ": " + strings.TrimSpace(out.String()))
	}
	s.cmd, s.done = cmd, done
	return nil
}

// waitReady sends PING until the server answers PONG, it exits, or the wait times out.
func waitReady(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(redisReadyTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("redis-server exited")
		default:
		}
		if ping(addr) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errors.New("redis-server did not answer PING in time")
}

func ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// keyPrefix returns "test:<name>:<random>:" with the test name reduced to
// characters that are neither glob metacharacters nor Cluster hash-tag braces.
func keyPrefix(t testing.TB) string {
	name := []byte(t.Name())
	for i, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '/') {
			name[i] = '_'
		}
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	return "test:" + string(name) + ":" + hex.EncodeToString(r[:]) + ":"
}

// deleteKeys removes every key under prefix (for a shared REDIS_ADDR server).
func deleteKeys(t testing.TB, c *redis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		_ = c.Del(ctx, iter.Val()).Err()
	}
	if err := iter.Err(); err != nil {
		t.Logf("clean up redis keys under %s: %v", prefix, err)
	}
}

// RedisCluster starts a three-node Redis Cluster of throwaway redis-servers (all
// masters, the slots split among them) and returns their addresses once the
// cluster reports ok. Skips or fails like Redis when redis-server is missing.
func RedisCluster(t testing.TB) []string {
	t.Helper()
	var nodes []*Server
	for range 3 {
		nodes = append(nodes, startServer(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const slots = 16384
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.addr
		c := redis.NewClient(&redis.Options{Addr: n.addr})
		defer c.Close()
		lo, hi := i*slots/len(nodes), (i+1)*slots/len(nodes)-1
		if err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			t.Fatalf("cluster addslots on %s: %v", n.addr, err)
		}
		if i > 0 {
			host, port, _ := net.SplitHostPort(n.addr)
			first := redis.NewClient(&redis.Options{Addr: nodes[0].addr})
			defer first.Close()
			if err := first.Do(ctx, "CLUSTER", "MEET", host, port).Err(); err != nil {
				t.Fatalf("cluster meet %s: %v", n.addr, err)
			}
		}
	}
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a})
		defer c.Close()
		for {
			info, err := c.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:3") {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("cluster on %s did not become ok: %v %s", a, err, info)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return addrs
}

// RedisSentinel starts a throwaway redis-server and one sentinel monitoring it as
// master "mymaster", and returns the sentinel's address and the master name once the
// sentinel knows the master.
func RedisSentinel(t testing.TB) (sentinelAddr, master string) {
	t.Helper()
	master = "mymaster"
	m := startServer(t)
	host, port, _ := net.SplitHostPort(m.addr)
	conf := t.TempDir() + "/sentinel.conf"
	text := "sentinel monitor " + master + " " + host + " " + port + " 1\nsentinel down-after-milliseconds " + master + " 5000\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	// redis-server CONF --sentinel: the config file goes first.
	s := startSentinel(t, conf)
	c := redis.NewSentinelClient(&redis.Options{Addr: s.addr})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		addr, err := c.GetMasterAddrByName(ctx, master).Result()
		if err == nil && len(addr) == 2 && net.JoinHostPort(addr[0], addr[1]) == m.addr {
			return s.addr, master
		}
		select {
		case <-ctx.Done():
			t.Fatalf("sentinel does not know the master: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func startSentinel(t testing.TB, conf string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server not in PATH; CI=true: Redis tests must run")
		}
		t.Skip("redis-server not in PATH")
	}
	for range 3 {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		cmd := exec.Command(bin, conf, "--sentinel", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", t.TempDir(), "--loglevel", "warning")
		out := new(bytes.Buffer)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		if err := waitReady(addr, done); err != nil {
			_ = cmd.Process.Kill()
			<-done
			continue
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
		return &Server{t: t, bin: bin, addr: addr}
	}
	t.Fatal("start redis sentinel")
	return nil
}

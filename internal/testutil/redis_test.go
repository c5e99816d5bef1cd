package testutil

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestRedis(t *testing.T) {
	ctx := context.Background()
	c, prefix := Redis(t)
	if err := c.Set(ctx, prefix+"k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got := c.Get(ctx, prefix+"k").Val(); got != "v" {
		t.Fatalf("got %q, want v", got)
	}
}

func TestRedisServerStopStart(t *testing.T) {
	srv, c, _ := RedisServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("ping running server: %v", err)
	}
	srv.Stop()
	srv.Stop() // idempotent
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("ping stopped server: got nil error, want one")
	}
	srv.Start()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("ping restarted server at %s: %v", srv.Addr(), err)
	}
}

func TestKeyPrefix(t *testing.T) {
	a, b := keyPrefix(t), keyPrefix(t)
	if a == b {
		t.Fatalf("got %q twice, want unique prefixes", a)
	}
	t.Run("odd name*[{x}]", func(t *testing.T) {
		p := keyPrefix(t)
		if strings.ContainsAny(p, "*?[]{}\\ ") || !strings.HasPrefix(p, "test:") || !strings.HasSuffix(p, ":") {
			t.Fatalf("got %q, want test:<safe name>:<random>:", p)
		}
	})
}

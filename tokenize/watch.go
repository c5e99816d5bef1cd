package tokenize

import (
	"context"
	"errors"
	"fmt"
)

// Watcher is a Store shared by several processes that announces new records, so
// every replica learns the values the others tokenize (known-value matching works
// across replicas).
type Watcher interface {
	// Watch calls fn with the id of every record Put from now on, by any process,
	// until ctx ends. It returns ctx's error, or an error if it cannot subscribe.
	Watch(ctx context.Context, fn func(id string)) error
}

// Watch announces records stored from now on, by any replica sharing the store:
// fn gets each one opened (its Value is fn's to keep or zero). It returns at once,
// with nil, when the store is not shared (not a Watcher); otherwise it runs until
// ctx ends. Records that cannot be read or opened are skipped and counted in errs.
func (v *Vault) Watch(ctx context.Context, fn func(Entry), errs func(error)) error {
	w, ok := v.store.(Watcher)
	if !ok {
		return nil
	}
	err := w.Watch(ctx, func(id string) {
		rec, err := v.store.Get(ctx, id)
		if err == nil {
			var e Entry
			if e, err = v.open(rec); err == nil {
				fn(e)
				return
			}
		}
		if errs != nil && !errors.Is(err, context.Canceled) {
			errs(fmt.Errorf("watch token %s: %w", id, err))
		}
	})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Watch implements Watcher with Redis pub/sub on <prefix>new, which Put publishes
// to. go-redis subscribes again by itself after a reconnect; records Put while the
// subscription was down are not announced (a restart loads them all).
func (s *RedisStore) Watch(ctx context.Context, fn func(id string)) error {
	sub := s.client.Subscribe(ctx, s.newChannel())
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // the subscription confirmation
		return redisErr(err)
	}
	ch := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m, ok := <-ch:
			if !ok {
				return errors.New("redis subscription closed")
			}
			if len(m.Payload) == IDLen {
				fn(m.Payload)
			}
		}
	}
}

func (s *RedisStore) newChannel() string { return s.prefix + "new" }

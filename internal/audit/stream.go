package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults of a Stream.
const (
	// DefaultStreamMaxLen is about how many entries the stream keeps (XADD MAXLEN ~).
	DefaultStreamMaxLen = 1_000_000
	// DefaultStreamQueue is how many lines wait in memory while Redis is slow or down.
	DefaultStreamQueue = 10_000
	// StreamField is the field of a stream entry that holds the line.
	StreamField = "line"
)

// Stream timings.
const (
	streamBatch      = 256
	streamCallTime   = 5 * time.Second
	streamRetryFirst = 100 * time.Millisecond
	streamRetryMax   = 5 * time.Second
)

// streamCloseTime bounds how long Close tries to send what is queued (a variable
// for tests).
var streamCloseTime = 5 * time.Second

// StreamOptions configure a Stream.
type StreamOptions struct {
	// MaxLen is about how many entries the stream keeps (trimmed with MAXLEN ~ on
	// each XADD); 0 means DefaultStreamMaxLen.
	MaxLen int64
	// Queue is how many lines wait in memory while Redis is slow or unreachable;
	// past it lines are dropped (and counted). 0 means DefaultStreamQueue.
	Queue int
	// OnError, if not nil, is told when XADD fails (the lines are retried) and when
	// lines are dropped. It runs on the Stream's goroutine.
	OnError func(error)
}

// Stream appends audit lines to a Redis stream, one entry per line with the line
// in the field "line", in the order they were written. Writes never wait for
// Redis: lines queue in memory and one goroutine sends them in batches, retrying
// while Redis is down. It is safe for concurrent use.
type Stream struct {
	client  redis.UniversalClient
	key     string
	maxLen  int64
	onError func(error)

	lines   chan []byte
	stop    chan struct{}
	running context.Context // ended by Close, to cut a call in flight short
	cancel  context.CancelFunc
	done    chan struct{}
	once    sync.Once
	dropped atomic.Uint64
	lost    atomic.Uint64 // dropped at Close
}

// NewStream starts a Stream that appends to the stream at key (cloakroom uses
// "<redis prefix>audit"). Close stops it.
func NewStream(client redis.UniversalClient, key string, o StreamOptions) *Stream {
	if o.MaxLen <= 0 {
		o.MaxLen = DefaultStreamMaxLen
	}
	if o.Queue <= 0 {
		o.Queue = DefaultStreamQueue
	}
	s := &Stream{client: client, key: key, maxLen: o.MaxLen, onError: o.OnError,
		lines: make(chan []byte, o.Queue), stop: make(chan struct{}), done: make(chan struct{})}
	s.running, s.cancel = context.WithCancel(context.Background())
	go s.run()
	return s
}

// Dropped returns how many lines were dropped because the queue was full, or
// still unsent when Close gave up.
func (s *Stream) Dropped() uint64 { return s.dropped.Load() + s.lost.Load() }

// send queues a copy of line, or drops it when the queue is full.
func (s *Stream) send(line []byte) {
	select {
	case s.lines <- append([]byte(nil), line...):
	default:
		if s.dropped.Add(1) == 1 {
			s.report(errors.New("audit stream: queue full, dropping lines until Redis catches up (the stream's chains will show them as deleted)"))
		}
	}
}

func (s *Stream) report(err error) {
	if s.onError != nil {
		s.onError(err)
	}
}

func (s *Stream) run() {
	defer close(s.done)
	batch := make([][]byte, 0, streamBatch)
	for {
		select {
		case l := <-s.lines:
			batch = s.fill(append(batch[:0], l))
			s.deliver(batch)
		case <-s.stop:
			s.drain(batch[:0])
			return
		}
	}
}

// fill adds queued lines to batch without waiting, up to streamBatch.
func (s *Stream) fill(batch [][]byte) [][]byte {
	for len(batch) < streamBatch {
		select {
		case l := <-s.lines:
			batch = append(batch, l)
		default:
			return batch
		}
	}
	return batch
}

// deliver sends batch, retrying with backoff until it is sent or the Stream stops
// (then drain sends what is left).
func (s *Stream) deliver(batch [][]byte) {
	wait := streamRetryFirst
	for failures := 0; ; failures++ {
		ctx, cancel := context.WithTimeout(s.running, streamCallTime)
		rest, err := s.xadd(ctx, batch)
		cancel()
		if err == nil {
			if failures > 0 {
				s.report(fmt.Errorf("audit stream: Redis answers again after %d failed attempts", failures))
			}
			return
		}
		if failures == 0 {
			s.report(fmt.Errorf("audit stream: XADD failed, retrying: %w", err))
		}
		batch = rest
		select {
		case <-s.stop:
			s.drain(batch)
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, streamRetryMax)
	}
}

// drain sends batch and whatever is queued, within streamCloseTime, counting what
// could not be sent as lost.
func (s *Stream) drain(batch [][]byte) {
	ctx, cancel := context.WithTimeout(context.Background(), streamCloseTime)
	defer cancel()
	for {
		batch = s.fill(batch)
		if len(batch) == 0 {
			return
		}
		for len(batch) > 0 {
			rest, err := s.xadd(ctx, batch)
			if err != nil {
				select {
				case <-ctx.Done():
					s.lost.Add(uint64(len(rest)))
					for range len(s.lines) {
						<-s.lines
						s.lost.Add(1)
					}
					return
				case <-time.After(streamRetryFirst):
				}
			}
			batch = rest
		}
	}
}

// xadd sends lines in one pipeline and returns those that failed, in order.
func (s *Stream) xadd(ctx context.Context, lines [][]byte) ([][]byte, error) {
	pipe := s.client.Pipeline()
	cmds := make([]*redis.StringCmd, len(lines))
	for i, l := range lines {
		cmds[i] = pipe.XAdd(ctx, &redis.XAddArgs{Stream: s.key, MaxLen: s.maxLen, Approx: true, Values: []any{StreamField, l}})
	}
	_, err := pipe.Exec(ctx)
	if err == nil {
		return nil, nil
	}
	var rest [][]byte
	for i, c := range cmds {
		if c.Err() != nil {
			rest = append(rest, lines[i])
		}
	}
	if len(rest) == 0 {
		return nil, nil
	}
	return rest, err
}

// Close sends the lines still queued (giving up after a few seconds) and stops
// the Stream. It does not close the Redis client. The error says how many lines
// were never sent.
func (s *Stream) Close() error {
	s.once.Do(func() {
		close(s.stop)
		s.cancel()
	})
	<-s.done
	if n := s.lost.Load(); n > 0 {
		return fmt.Errorf("audit stream: %d lines not sent to Redis before closing", n)
	}
	return nil
}

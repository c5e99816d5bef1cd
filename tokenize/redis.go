package tokenize

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisPrefix starts every key a RedisStore writes when no prefix is given.
const DefaultRedisPrefix = "cloakroom:"

// Redis hash fields of a token record. Each submitter is a field subField+principal
// with the value "1".
const (
	fieldClass     = "class"
	fieldRule      = "rule"
	fieldSealed    = "sealed"
	fieldFirstSeen = "first_seen" // Unix nanoseconds, decimal
	subField       = "sub:"
)

// redisScanCount is the COUNT hint of each SCAN in Each.
const redisScanCount = 512

// RedisStore is a Store in Redis (standalone, Sentinel or Cluster through a
// UniversalClient), shared by any number of proxy replicas. Each token is one hash at
// <prefix>tok:{<id>}; the braces are a Cluster hash tag, so every command on a token
// stays in one slot. Key names hold only the keyed HMAC id, never a value or an
// unsalted hash of one. It is safe for concurrent use.
type RedisStore struct {
	client redis.UniversalClient
	prefix string

	// TTL, if positive, expires a token that has not been stored or read for that
	// long; Put and Get refresh it in the same round trip. Zero keeps tokens forever.
	// Set it before first use.
	TTL time.Duration
}

var _ Store = (*RedisStore)(nil)

// NewRedisStore returns a store using client, with every key starting with prefix
// (DefaultRedisPrefix if empty). The prefix must not contain '{' or '}', which would
// move the Cluster hash tag. The caller keeps ownership of client: Close does not
// close it.
func NewRedisStore(client redis.UniversalClient, prefix string) *RedisStore {
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	return &RedisStore{client: client, prefix: prefix}
}

func (s *RedisStore) key(id string) string { return s.prefix + "tok:{" + id + "}" }

// idFromKey returns the id in a key made by key, or false.
func (s *RedisStore) idFromKey(k string) (string, bool) {
	rest, ok := strings.CutPrefix(k, s.prefix+"tok:{")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "}")
}

// Put implements Store in one round trip: a MULTI/EXEC of HSETNX for the fixed
// fields, HSET of the submitter field, PEXPIRE when TTL is set, HGETALL, and a
// PUBLISH of the id on <prefix>new for the other replicas (Watch).
func (s *RedisStore) Put(ctx context.Context, rec Record, principal string) (Record, error) {
	k := s.key(rec.ID)
	var all *redis.MapStringStringCmd
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSetNX(ctx, k, fieldClass, rec.Class)
		p.HSetNX(ctx, k, fieldRule, rec.Rule)
		p.HSetNX(ctx, k, fieldSealed, rec.Sealed)
		p.HSetNX(ctx, k, fieldFirstSeen, strconv.FormatInt(rec.FirstSeen.UnixNano(), 10))
		p.HSet(ctx, k, subField+principal, "1")
		if s.TTL > 0 {
			p.PExpire(ctx, k, s.TTL)
		}
		all = p.HGetAll(ctx, k)
		p.Publish(ctx, s.newChannel(), rec.ID) // replicas learn the value (Watch)
		return nil
	})
	if err != nil {
		return Record{}, redisErr(err)
	}
	return parseRedisRecord(rec.ID, all.Val())
}

// Get implements Store.
func (s *RedisStore) Get(ctx context.Context, id string) (Record, error) {
	k := s.key(id)
	var all *redis.MapStringStringCmd
	var err error
	if s.TTL > 0 {
		_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			all = p.HGetAll(ctx, k)
			p.PExpire(ctx, k, s.TTL)
			return nil
		})
	} else {
		all = s.client.HGetAll(ctx, k)
		err = all.Err()
	}
	if err != nil {
		return Record{}, redisErr(err)
	}
	return parseRedisRecord(id, all.Val())
}

// Each implements Store with SCAN MATCH <prefix>tok:* (never KEYS), on every master
// of a Cluster or every shard of a Ring. fn is never called concurrently.
func (s *RedisStore) Each(ctx context.Context, fn func(Record) error) error {
	var mu sync.Mutex
	visit := func(ctx context.Context, c *redis.Client) error {
		return s.scanNode(ctx, c, func(r Record) error {
			mu.Lock()
			defer mu.Unlock()
			return fn(r)
		})
	}
	switch c := s.client.(type) {
	case *redis.ClusterClient:
		return redisErr(c.ForEachMaster(ctx, visit))
	case *redis.Ring:
		return redisErr(c.ForEachShard(ctx, visit))
	default:
		return s.scanNode(ctx, s.client, fn)
	}
}

// redisNode is what scanNode needs of a client.
type redisNode interface {
	Scan(ctx context.Context, cursor uint64, match string, count int64) *redis.ScanCmd
	Pipelined(ctx context.Context, fn func(redis.Pipeliner) error) ([]redis.Cmder, error)
}

// scanNode scans one node, fetching each page of keys in one pipelined round trip.
func (s *RedisStore) scanNode(ctx context.Context, c redisNode, fn func(Record) error) error {
	match := globEscape(s.prefix) + "tok:*"
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, match, redisScanCount).Result()
		if err != nil {
			return redisErr(err)
		}
		ids := make([]string, 0, len(keys))
		for _, k := range keys {
			if id, ok := s.idFromKey(k); ok {
				ids = append(ids, id)
			} // else another key under the prefix
		}
		cmds := make([]*redis.MapStringStringCmd, len(ids))
		if len(ids) > 0 {
			_, err = c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, id := range ids {
					cmds[i] = p.HGetAll(ctx, s.key(id))
				}
				return nil
			})
			if err != nil {
				return redisErr(err)
			}
		}
		for i, id := range ids {
			rec, err := parseRedisRecord(id, cmds[i].Val())
			if errors.Is(err, ErrNotFound) {
				continue // expired or deleted since SCAN
			}
			if err != nil {
				return err
			}
			if err := fn(rec); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// Ping implements Store.
func (s *RedisStore) Ping(ctx context.Context) error {
	return redisErr(s.client.Ping(ctx).Err())
}

// Close implements Store. It does not close the client, which the caller owns.
func (s *RedisStore) Close() error { return nil }

// parseRedisRecord builds a Record from a token hash; an empty hash is ErrNotFound.
func parseRedisRecord(id string, h map[string]string) (Record, error) {
	if len(h) == 0 {
		return Record{}, ErrNotFound
	}
	class, ok1 := h[fieldClass]
	sealed, ok2 := h[fieldSealed]
	ns, err := strconv.ParseInt(h[fieldFirstSeen], 10, 64)
	if !ok1 || !ok2 || err != nil {
		return Record{}, fmt.Errorf("token %s: %w", id, errCorrupt)
	}
	r := Record{
		ID:        id,
		Class:     class,
		Rule:      h[fieldRule],
		Sealed:    []byte(sealed),
		FirstSeen: time.Unix(0, ns),
	}
	for f := range h {
		if p, ok := strings.CutPrefix(f, subField); ok {
			r.Submitters = append(r.Submitters, p)
		}
	}
	slices.Sort(r.Submitters)
	return r, nil
}

// redisErr translates redis.Nil into ErrNotFound.
func redisErr(err error) error {
	if errors.Is(err, redis.Nil) {
		return ErrNotFound
	}
	return err
}

// globEscape escapes the SCAN MATCH metacharacters in s.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

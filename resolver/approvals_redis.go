package resolver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultApprovalsPrefix starts every key a RedisApprovals writes when no prefix is
// given (the same default as the token store's).
const DefaultApprovalsPrefix = "cloakroom:"

// redisCASAttempts bounds how often a RedisApprovals write retries after another
// writer changed the same record first.
const redisCASAttempts = 64

// redisPruneLimit bounds how many approvals one write prunes.
const redisPruneLimit = 256

// errContention reports a write that lost its compare-and-set too many times.
var errContention = errors.New("approvals store: too many concurrent writers")

// RedisApprovals is an ApprovalStore in Redis (standalone, Sentinel or Cluster
// through a UniversalClient), shared by every replica. Its keys all carry the
// Cluster hash tag {approvals}, so they share one slot and every write is one Lua
// script:
//
//	<prefix>apr:{approvals}:data     hash: id -> approval (JSON)
//	<prefix>apr:{approvals}:pending  hash: scope key -> id of its pending approval
//	<prefix>apr:{approvals}:grants   sorted set (lexical): scope key ":" id
//	<prefix>apr:{approvals}:done     sorted set: id ":" scope key, scored by when the
//	                                 approval is over (Unix ms), for pruning
//
// A scope key is a hash of the scope, so no principal or host is in a key name.
// Writes compare the record they read with the stored one and retry on a
// mismatch (compare-and-set in the script), so exactly one caller on any replica
// spends a one-shot grant or expires a request. Decide and Expire publish the id on
// the channel <prefix>approvals (Watch). It is safe for concurrent use.
type RedisApprovals struct {
	ApprovalOptions

	client  redis.UniversalClient
	keys    []string // data, pending, grants, done
	channel string
}

var _ ApprovalStore = (*RedisApprovals)(nil)

// NewRedisApprovals returns a store using client, with every key starting with
// prefix (DefaultApprovalsPrefix if empty). The prefix must not contain '{' or '}',
// which would move the Cluster hash tag. The caller keeps ownership of client.
func NewRedisApprovals(client redis.UniversalClient, prefix string) *RedisApprovals {
	if prefix == "" {
		prefix = DefaultApprovalsPrefix
	}
	base := prefix + "apr:{approvals}:"
	return &RedisApprovals{
		client:  client,
		keys:    []string{base + "data", base + "pending", base + "grants", base + "done"},
		channel: prefix + "approvals",
	}
}

// commitScript writes one approval if it is still what the caller read (compare
// and set), keeps the indexes in step, publishes, and prunes.
//
// KEYS: data, pending, grants, done.
// ARGV: 1 id, 2 the record read ("" = absent), 3 the new record, 4 scope key,
// 5 done score (Unix ms), 6 pending op ("set" | "clear" | ""), 7 the pending id
// read ("" = none; for "set"), 8 "1" to index a grant, 9 channel to publish the id
// on ("" = none), 10 prune before (Unix ms), 11 prune limit.
var commitScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if cur ~= ARGV[2] then return 0 end
if ARGV[6] == 'set' then
  local p = redis.call('HGET', KEYS[2], ARGV[4]) or ''
  if p ~= ARGV[7] then return 0 end
  redis.call('HSET', KEYS[2], ARGV[4], ARGV[1])
elseif ARGV[6] == 'clear' then
  if redis.call('HGET', KEYS[2], ARGV[4]) == ARGV[1] then redis.call('HDEL', KEYS[2], ARGV[4]) end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[5], ARGV[1] .. ':' .. ARGV[4])
if ARGV[8] == '1' then redis.call('ZADD', KEYS[3], 0, ARGV[4] .. ':' .. ARGV[1]) end
if ARGV[9] ~= '' then redis.call('PUBLISH', ARGV[9], ARGV[1]) end
local old = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', '(' .. ARGV[10], 'LIMIT', 0, tonumber(ARGV[11]))
for _, m in ipairs(old) do
  local i = string.find(m, ':', 1, true)
  local id, sk = string.sub(m, 1, i - 1), string.sub(m, i + 1)
  redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[3], sk .. ':' .. id)
  if redis.call('HGET', KEYS[2], sk) == id then redis.call('HDEL', KEYS[2], sk) end
  redis.call('ZREM', KEYS[4], m)
end
return 1
`)

// pendingScript returns {id, record} of a scope's pending approval, or nil.
// KEYS: data, pending. ARGV: scope key.
var pendingScript = redis.NewScript(`
local id = redis.call('HGET', KEYS[2], ARGV[1])
if not id then return false end
return {id, redis.call('HGET', KEYS[1], id) or ''}
`)

// scopedScript returns the records of a scope's granted approvals.
// KEYS: data, grants. ARGV: scope key.
var scopedScript = redis.NewScript(`
local m = redis.call('ZRANGEBYLEX', KEYS[2], '[' .. ARGV[1] .. ':', '(' .. ARGV[1] .. ';')
if #m == 0 then return {} end
local ids = {}
for i, v in ipairs(m) do ids[i] = string.sub(v, #ARGV[1] + 2) end
return redis.call('HMGET', KEYS[1], unpack(ids))
`)

// write is one compare-and-set of commitScript.
type write struct {
	old     string // the record read; "" when creating
	rec     Approval
	pending string // "set" (creating), "clear" (no longer pending) or ""
	pendID  string // for "set": the pending id read for the scope
	publish bool
}

// commit runs w and reports whether it took.
func (s *RedisApprovals) commit(ctx context.Context, w write) (bool, error) {
	v, err := json.Marshal(w.rec)
	if err != nil {
		return false, err
	}
	addGrant, channel := "", ""
	if w.rec.Grant != nil {
		addGrant = "1"
	}
	if w.publish {
		channel = s.channel
	}
	n, err := commitScript.Run(ctx, s.client, s.keys,
		w.rec.ID, w.old, v, scopeKey(w.rec.Scope()), doneAt(w.rec).UnixMilli(),
		w.pending, w.pendID, addGrant, channel, s.pruneBefore().UnixMilli(), redisPruneLimit).Int()
	if err != nil {
		return false, fmt.Errorf("approvals store: %w", err)
	}
	return n == 1, nil
}

// Request implements ApprovalStore.
func (s *RedisApprovals) Request(ctx context.Context, a Approval) (Approval, bool, error) {
	sk := scopeKey(a.Scope())
	for range redisCASAttempts {
		pendID, cur, err := s.pendingFor(ctx, sk)
		if err != nil {
			return Approval{}, false, err
		}
		if cur != nil {
			return *cur, false, nil
		}
		n, err := s.pending(a)
		if err != nil {
			return Approval{}, false, err
		}
		ok, err := s.commit(ctx, write{rec: n, pending: "set", pendID: pendID})
		if err != nil {
			return Approval{}, false, err
		}
		if ok {
			return n, true, nil
		}
	}
	return Approval{}, false, errContention
}

// pendingFor returns the id the pending index holds for sk ("" if none) and the
// approval when it is live.
func (s *RedisApprovals) pendingFor(ctx context.Context, sk string) (string, *Approval, error) {
	r, err := pendingScript.Run(ctx, s.client, s.keys[:2], sk).StringSlice()
	if errors.Is(err, redis.Nil) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("approvals store: %w", err)
	}
	if len(r) != 2 {
		return "", nil, fmt.Errorf("approvals store: %w", errCorruptApproval)
	}
	if r[1] == "" {
		return r[0], nil, nil // pruned since
	}
	a, err := decodeApproval(r[0], []byte(r[1]))
	if err != nil {
		return "", nil, err
	}
	if !live(a, s.now()) {
		return r[0], nil, nil
	}
	return r[0], &a, nil
}

// Get implements ApprovalStore.
func (s *RedisApprovals) Get(ctx context.Context, id string) (Approval, error) {
	a, _, err := s.get(ctx, id)
	if err != nil {
		return Approval{}, err
	}
	return view(a, s.now()), nil
}

// get returns the stored approval and its raw record.
func (s *RedisApprovals) get(ctx context.Context, id string) (Approval, string, error) {
	if !validID(id) {
		return Approval{}, "", ErrApprovalNotFound
	}
	raw, err := s.client.HGet(ctx, s.keys[0], id).Result()
	if errors.Is(err, redis.Nil) {
		return Approval{}, "", ErrApprovalNotFound
	}
	if err != nil {
		return Approval{}, "", fmt.Errorf("approvals store: %w", err)
	}
	a, err := decodeApproval(id, []byte(raw))
	return a, raw, err
}

// List implements ApprovalStore. It reads every approval kept (the retention
// bounds them).
func (s *RedisApprovals) List(ctx context.Context, status Status) ([]Approval, error) {
	all, err := s.client.HGetAll(ctx, s.keys[0]).Result()
	if err != nil {
		return nil, fmt.Errorf("approvals store: %w", err)
	}
	as := make([]Approval, 0, len(all))
	for id, raw := range all {
		a, err := decodeApproval(id, []byte(raw))
		if err != nil {
			return nil, err
		}
		as = append(as, a)
	}
	return listed(as, status, s.now()), nil
}

// Decide implements ApprovalStore, and publishes the id.
func (s *RedisApprovals) Decide(ctx context.Context, id string, grant bool, dur time.Duration, by, note string) (Approval, error) {
	if dur < 0 {
		return Approval{}, errors.New("decide approval: negative grant duration")
	}
	for range redisCASAttempts {
		old, raw, err := s.get(ctx, id)
		if err != nil {
			return Approval{}, err
		}
		a, err := s.decided(old, grant, dur, by, note)
		if err != nil {
			return Approval{}, err
		}
		ok, err := s.commit(ctx, write{old: raw, rec: a, pending: "clear", publish: true})
		if err != nil {
			return Approval{}, err
		}
		if ok {
			return a, nil
		}
	}
	return Approval{}, errContention
}

// Expire implements ApprovalStore, and publishes the id when it made the change.
func (s *RedisApprovals) Expire(ctx context.Context, id string) (bool, error) {
	for range redisCASAttempts {
		old, raw, err := s.get(ctx, id)
		if err != nil {
			return false, err
		}
		a, changed := s.expired(old)
		if !changed {
			return false, nil
		}
		ok, err := s.commit(ctx, write{old: raw, rec: a, pending: "clear", publish: true})
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, errContention
}

// Grants implements ApprovalStore in one round trip.
func (s *RedisApprovals) Grants(ctx context.Context, sc Scope) ([]Grant, error) {
	as, _, err := s.scoped(ctx, sc)
	if err != nil {
		return nil, err
	}
	return grantsOf(as, s.now()), nil
}

// scoped returns a scope's granted approvals and their raw records.
func (s *RedisApprovals) scoped(ctx context.Context, sc Scope) ([]Approval, map[string]string, error) {
	vals, err := scopedScript.Run(ctx, s.client, []string{s.keys[0], s.keys[2]}, scopeKey(sc)).Slice()
	if err != nil {
		return nil, nil, fmt.Errorf("approvals store: %w", err)
	}
	as := make([]Approval, 0, len(vals))
	raws := make(map[string]string, len(vals))
	for _, v := range vals {
		raw, ok := v.(string)
		if !ok {
			continue // pruned since
		}
		var a Approval
		if err := json.Unmarshal([]byte(raw), &a); err != nil || !validID(a.ID) {
			return nil, nil, fmt.Errorf("approvals store: %w", errCorruptApproval)
		}
		as = append(as, a)
		raws[a.ID] = raw
	}
	return as, raws, nil
}

// Use implements ApprovalStore: a time-bound grant is only read; a one-shot grant
// is spent by a compare-and-set, which one caller wins.
func (s *RedisApprovals) Use(ctx context.Context, sc Scope) (Grant, bool, error) {
	for range redisCASAttempts {
		as, raws, err := s.scoped(ctx, sc)
		if err != nil {
			return Grant{}, false, err
		}
		a, ok := pickGrant(as, s.now())
		if !ok {
			return Grant{}, false, nil
		}
		if !a.Grant.Once {
			return *a.Grant, true, nil
		}
		a = spent(a)
		if ok, err = s.commit(ctx, write{old: raws[a.ID], rec: a}); err != nil {
			return Grant{}, false, err
		}
		if ok {
			return *a.Grant, true, nil
		}
	}
	return Grant{}, false, errContention
}

// Watch implements ApprovalStore with Redis pub/sub on <prefix>approvals, which
// Decide and Expire publish to. go-redis subscribes again by itself after a
// reconnect; decisions published while the subscription was down are not
// announced. fn is called from this goroutine, one id at a time.
func (s *RedisApprovals) Watch(ctx context.Context, fn func(id string)) error {
	sub := s.client.Subscribe(ctx, s.channel)
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // the subscription confirmation
		return fmt.Errorf("approvals store: %w", err)
	}
	ch := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m, ok := <-ch:
			if !ok {
				return errors.New("approvals store: subscription closed")
			}
			if validID(m.Payload) {
				fn(m.Payload)
			}
		}
	}
}

// Close does nothing: the caller owns the client. It lets callers close either
// store the same way.
func (s *RedisApprovals) Close() error { return nil }

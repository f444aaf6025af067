// Package redisstore implements gateway.Store on Redis (go-redis v9): the
// production store, shared by several gateway replicas. Every state change
// is one Lua script (scripts.go); all key names are in keys.go.
//
// Durability depends on Redis persistence: run it with appendonly yes and
// appendfsync everysec (at most a second of acknowledged writes at risk if
// the Redis host itself loses power) or always (none, at a throughput cost).
package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/internal/blob"
)

var _ gateway.Store = (*Store)(nil)

// leaseScan bounds how many due deliveries one Lease examines.
const leaseScan = 64

// Store is gateway.Store on Redis.
type Store struct {
	rdb  redis.UniversalClient
	keys keys
	// PDFKeys stores each new version's PDF under a key of its own, sent
	// beside the save script rather than through it (see saveWithPDF).
	// Every release since reads both layouts; releases before read only
	// the PDF in the version's hash, so turn this on once no earlier
	// replica shares the Redis, and roll back no further than a release
	// that reads it. Set it before the store is used.
	PDFKeys bool
}

// Open connects to url (redis://host:port/db) and keys everything under prefix.
//
// indexKey keys the HMAC that names patient index keys; an index built
// under raw NHS numbers by an earlier version is renamed at Open.
func Open(ctx context.Context, url, prefix string, indexKey []byte) (*Store, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	// A store outage must be answered (503, so labs resend) within about two
	// seconds, not after go-redis's default dial timeout and three retries.
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = time.Second, 2*time.Second, 2*time.Second
	opts.PoolTimeout, opts.MaxRetries = 2*time.Second, 1
	rdb := redis.NewClient(opts)
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("connect to redis at %s: %w", opts.Addr, err)
	}
	s := New(rdb, prefix, indexKey)
	for _, migrate := range []func(context.Context) error{s.checkIndexKey, s.migratePatientKeys, s.buildWaiting, s.buildDestState} {
		if err := migrate(ctx); err != nil {
			rdb.Close()
			return nil, err
		}
	}
	return s, nil
}

// New wraps an existing client.
func New(rdb redis.UniversalClient, prefix string, indexKey []byte) *Store {
	if prefix == "" {
		prefix = "rg"
	}
	return &Store{rdb: rdb, keys: newKeys(prefix, indexKey)}
}

// checkIndexKey refuses a store whose patient index is named under another
// index key. Replicas started with different GATEWAY_INDEX_KEYs would each
// file and find a patient's reports under names of their own, and answer
// an EPR's search by NHS number with part of them, or none. The first
// gateway to open the store records its key's fingerprint (an HMAC of a
// fixed text, which says nothing of the key); every later one must match.
func (s *Store) checkIndexKey(ctx context.Context) error {
	mine := s.keys.fingerprint()
	if err := s.rdb.SetNX(ctx, s.keys.indexKeyCheck(), mine, 0).Err(); err != nil {
		return unavailable(err, "check the index key")
	}
	stored, err := s.rdb.Get(ctx, s.keys.indexKeyCheck()).Result()
	if err != nil {
		return unavailable(err, "check the index key")
	}
	if stored != mine {
		return fmt.Errorf("GATEWAY_INDEX_KEY is not the key this Redis's patient index was built with (prefix %q): "+
			"every replica must have the same one, or searches by NHS number miss reports filed through the others", s.keys.tag)
	}
	return nil
}

var rawNHSKey = regexp.MustCompile(`:idx:pat:\d{10}$`)

// migratePatientKeys renames patient index keys named by a raw NHS number
// (as versions before the HMAC wrote them) to their HMAC names. It is
// idempotent, and a no-op once done.
func (s *Store) migratePatientKeys(ctx context.Context) error {
	iter := s.rdb.Scan(ctx, 0, s.keys.tag+":idx:pat:*", 1000).Iterator()
	for iter.Next(ctx) {
		old := iter.Val()
		if !rawNHSKey.MatchString(old) {
			continue
		}
		nhs := old[len(old)-10:]
		if err := s.rdb.SUnionStore(ctx, s.keys.patient(nhs), s.keys.patient(nhs), old).Err(); err != nil {
			return unavailable(err, "migrate patient index")
		}
		if err := s.rdb.Del(ctx, old).Err(); err != nil {
			return unavailable(err, "migrate patient index")
		}
	}
	return unavailable(iter.Err(), "migrate patient index")
}

// Durability implements gateway.DurabilityReporter from Redis's own
// account of its persistence: the no-loss promise needs its append-only
// file, written without error and fsynced at least every second. A Redis
// that refuses CONFIG (as managed services may) is judged on INFO alone.
func (s *Store) Durability(ctx context.Context) ([]gateway.DurabilityRisk, error) {
	info, err := s.rdb.Info(ctx, "persistence").Result()
	if err != nil {
		return nil, unavailable(err, "read Redis persistence")
	}
	fields := map[string]string{}
	for _, line := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			fields[k] = v
		}
	}
	switch {
	case fields["aof_enabled"] == "":
		return nil, gateway.Errorf(gateway.EUNAVAILABLE, "Redis did not report its persistence")
	case fields["aof_enabled"] != "1":
		return []gateway.DurabilityRisk{{Name: "appendonly", Why: "Redis runs without its append-only file (appendonly no): reports accepted since its last snapshot, and every delivery's state, would be lost"}}, nil
	}
	var risks []gateway.DurabilityRisk
	if fields["aof_last_write_status"] == "err" {
		risks = append(risks, gateway.DurabilityRisk{Name: "aof-write", Why: "Redis's last write to its append-only file failed (is its disk full?)"})
	}
	if cfg, err := s.rdb.ConfigGet(ctx, "appendfsync").Result(); err == nil && cfg["appendfsync"] == "no" {
		risks = append(risks, gateway.DurabilityRisk{Name: "appendfsync", Why: "Redis leaves fsyncing its append-only file to the operating system (appendfsync no): up to about 30 seconds of accepted reports are at risk if its host loses power"})
	}
	// Under maxmemory an evicting policy drops keys to make room: stored
	// reports, queued deliveries, held reports, whatever it picks, with
	// nothing refused and nothing logged. Only noeviction refuses the
	// write instead (intake answers 503). INFO memory has the policy even
	// where CONFIG is refused.
	if mem, err := s.rdb.Info(ctx, "memory").Result(); err == nil {
		if policy := infoField(mem, "maxmemory_policy"); policy != "" && policy != "noeviction" {
			risks = append(risks, gateway.DurabilityRisk{Name: "eviction", Why: "Redis evicts keys when it reaches maxmemory (maxmemory-policy " + policy + "): stored reports and queued deliveries can vanish without an error; set maxmemory-policy noeviction"})
		}
	}
	return risks, nil
}

// infoField is one field of an INFO reply, or "".
func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && k == name {
			return v
		}
	}
	return ""
}

// Close closes the client.
func (s *Store) Close() error { return s.rdb.Close() }

// Ping implements gateway.Reports: whether the store takes writes now, so
// a write. Redis answers PING while it refuses every write (over maxmemory
// with noeviction, a read-only replica, a failed snapshot with
// stop-writes-on-bgsave-error), and readiness and the store alert would
// say all is well while intake answers 503.
func (s *Store) Ping(ctx context.Context) error {
	return s.rdb.Set(ctx, s.keys.ready(), "1", time.Minute).Err()
}

// unavailable turns a connection failure into EUNAVAILABLE, so intake answers
// 503 and the sender retries, rather than a 500.
func unavailable(err error, what string) error {
	if err == nil {
		return nil
	}
	var e *gateway.Error
	if errors.As(err, &e) {
		return err
	}
	return &gateway.Error{Code: gateway.EUNAVAILABLE, Message: "the store is not available: " + what, Cause: err}
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(s string) time.Time {
	n, _ := strconv.ParseInt(s, 10, 64)
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

// SaveReport implements gateway.Reports.
func (s *Store) SaveReport(ctx context.Context, rec *gateway.ReportRecord, deliveries []*gateway.Delivery) (*gateway.ReportRecord, bool, error) {
	meta, err := json.Marshal(rec)
	if err != nil {
		return nil, false, err
	}
	token, pdf := "", rec.PDF
	if s.PDFKeys {
		token, pdf = newToken(), nil
	}
	args := []any{s.keys.tag, rec.ID, rec.Version, rec.LabODS, rec.Digest, meta, blob.Pack(rec.Report), blob.PackBundleAt(rec.Bundle, rec.PDF, rec.BundlePDFAt), pdf, ms(rec.ReceivedAt)}
	args, err = deliveryArgs(args, deliveries)
	if err != nil {
		return nil, false, err
	}
	// The trusts whose last-updated lists it goes on, space-separated (ODS
	// codes have no spaces): the ordering trust and each copy-to recipient.
	args = append(args, strings.Join(append([]string{rec.TrustODS}, rec.CopyTo...), " "), s.keys.patientToken(rec.NHSNumber), len(rec.Resources))
	for _, ref := range rec.Resources {
		args = append(args, ref)
	}
	args = append(args, flag(rec.Held))
	audit := []byte{}
	if rec.Audit != nil { // pushed by the same script: never a report without its audit entry
		if audit, err = json.Marshal(rec.Audit); err != nil {
			return nil, false, err
		}
	}
	args = append(args, audit, token)
	if args, err = messageArgs(args, rec.Message); err != nil {
		return nil, false, err
	}
	var res []string
	if s.PDFKeys {
		res, err = s.saveWithPDF(ctx, rec, token, args)
	} else {
		res, err = saveReport.Run(ctx, s.rdb, []string{s.keys.report(rec.ID)}, args...).StringSlice()
	}
	if err != nil {
		if msg, ok := strings.CutPrefix(err.Error(), "CONFLICT "); ok {
			return nil, false, conflict(rec, msg)
		}
		return nil, false, unavailable(err, "save report")
	}
	if res[0] == "duplicate" {
		stored, err := s.ReportVersion(ctx, rec.ID, rec.Version)
		return stored, false, err
	}
	return rec, true, nil
}

// uploadTTL bounds how long a PDF SET for a save that never ran (its
// script not yet loaded, say) stays in Redis.
const uploadTTL = 10 * time.Minute

// saveWithPDF runs saveReport in one MULTI with a SET of the PDF under
// token, so the PDF reaches Redis as a plain command argument, which Redis
// keeps as it read it, and not through Lua, which copies every argument
// into a Lua string and back out. The script renames it into place or
// deletes it. A Redis that has lost its scripts (restarted, SCRIPT FLUSH)
// gets the script's text in a second MULTI.
func (s *Store) saveWithPDF(ctx context.Context, rec *gateway.ReportRecord, token string, args []any) ([]string, error) {
	keys := []string{s.keys.report(rec.ID)}
	run := func(eval func(p redis.Pipeliner) *redis.Cmd) *redis.Cmd {
		var cmd *redis.Cmd
		s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, s.keys.upload(token), rec.PDF, uploadTTL)
			cmd = eval(p)
			return nil
		})
		return cmd
	}
	cmd := run(func(p redis.Pipeliner) *redis.Cmd { return saveReport.EvalSha(ctx, p, keys, args...) })
	if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
		cmd = run(func(p redis.Pipeliner) *redis.Cmd { return saveReport.Eval(ctx, p, keys, args...) })
	}
	return cmd.StringSlice()
}

func conflict(rec *gateway.ReportRecord, why string) error {
	switch {
	case why == "lab":
		return gateway.ErrOtherLabsReport(rec.ID)
	case why == "pruned":
		return gateway.ErrPruned(rec.ID, rec.Version)
	case strings.HasPrefix(why, "older "):
		return gateway.ErrOlder(rec.ID, rec.Version, strings.TrimPrefix(why, "older "))
	default:
		return gateway.ErrOtherContent(rec.ID, rec.Version)
	}
}

// Report implements gateway.Reports.
func (s *Store) Report(ctx context.Context, id string) (*gateway.ReportRecord, error) {
	cur, err := s.rdb.HMGet(ctx, s.keys.report(id), "latest", "lab").Result()
	if err != nil {
		return nil, unavailable(err, "read report")
	}
	latest, _ := cur[0].(string)
	v, convErr := strconv.Atoi(latest)
	if convErr != nil {
		return nil, gateway.Errorf(gateway.ENOTFOUND, "report %s not found", id)
	}
	rec, err := s.ReportVersion(ctx, id, v)
	if gateway.ErrorCode(err) == gateway.ENOTFOUND { // its tombstone: the retention policy pruned it
		lab, _ := cur[1].(string)
		return nil, gateway.ErrReportPruned(id, lab, v)
	}
	return rec, err
}

// ReportVersion implements gateway.Reports.
func (s *Store) ReportVersion(ctx context.Context, id string, version int) (*gateway.ReportRecord, error) {
	v, pdf, err := s.readVersion(ctx, id, version, "meta", "report", "bundle")
	if err != nil {
		return nil, err
	}
	meta, _ := v[0].(string)
	if meta == "" {
		return nil, gateway.Errorf(gateway.ENOTFOUND, "report version not found")
	}
	var rec gateway.ReportRecord
	if err := json.Unmarshal([]byte(meta), &rec); err != nil {
		return nil, fmt.Errorf("decode stored report: %w", err)
	}
	rec.PDF = pdf
	report, _ := v[1].(string)
	if rec.Report, err = blob.Unpack([]byte(report)); err != nil {
		return nil, err
	}
	bundle, _ := v[2].(string)
	if rec.Bundle, err = blob.UnpackBundle([]byte(bundle), rec.PDF); err != nil {
		return nil, err
	}
	return &rec, nil
}

// readVersion reads fields of a stored version's hash and its PDF together
// (one MULTI, so a prune cannot fall between them). The PDF is under its
// own key (PDFKeys) or in the hash's pdf field; nil if neither is there.
func (s *Store) readVersion(ctx context.Context, id string, version int, fields ...string) ([]any, []byte, error) {
	var h *redis.SliceCmd
	var own *redis.StringCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		h = p.HMGet(ctx, s.keys.reportVersion(id, version), append(fields[:len(fields):len(fields)], "pdf")...)
		own = p.Get(ctx, s.keys.versionPDF(id, version))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, unavailable(err, "read report")
	}
	v := h.Val()
	if pdf, err := own.Bytes(); err == nil {
		return v[:len(fields)], pdf, nil
	}
	var pdf []byte
	if inHash, ok := v[len(fields)].(string); ok {
		pdf = []byte(inHash)
	}
	return v[:len(fields)], pdf, nil
}

// ReportBundle implements gateway.Reports: the metadata and Bundle only.
func (s *Store) ReportBundle(ctx context.Context, id string, version int) (*gateway.ReportRecord, error) {
	v, pdf, err := s.readVersion(ctx, id, version, "meta", "bundle")
	if err != nil {
		return nil, err
	}
	meta, _ := v[0].(string)
	if meta == "" {
		return nil, gateway.Errorf(gateway.ENOTFOUND, "report version not found")
	}
	var rec gateway.ReportRecord
	if err := json.Unmarshal([]byte(meta), &rec); err != nil {
		return nil, fmt.Errorf("decode stored report: %w", err)
	}
	bundle, _ := v[1].(string)
	if rec.Bundle, err = blob.UnpackBundle([]byte(bundle), pdf); err != nil {
		return nil, err
	}
	return &rec, nil
}

// ReportVersions implements gateway.Reports.
func (s *Store) ReportVersions(ctx context.Context, id string) ([]int, error) {
	vs, err := s.rdb.ZRange(ctx, s.keys.versions(id), 0, -1).Result()
	if err != nil {
		return nil, unavailable(err, "read versions")
	}
	out := make([]int, 0, len(vs))
	for _, v := range vs {
		n, _ := strconv.Atoi(v)
		out = append(out, n)
	}
	return out, nil
}

// description is the immutable part of a delivery, stored as JSON.
type desc struct {
	ID          string    `json:"id"`
	ReportID    string    `json:"reportId"`
	Version     int       `json:"version"`
	Destination string    `json:"destination"`
	ContentType string    `json:"contentType"`
	CreatedAt   time.Time `json:"createdAt"`
	PayloadOf   string    `json:"payloadOf,omitempty"` // the payload is the version's own Bundle or PDF
	Recipient   string    `json:"recipient,omitempty"`
	Withdrawal  bool      `json:"withdrawal,omitempty"`
}

func description(d *gateway.Delivery) desc {
	return desc{d.ID, d.ReportID, d.Version, d.Destination, d.ContentType, d.CreatedAt, d.PayloadOf, d.Recipient, d.Withdrawal}
}

// Lease implements gateway.Queue.
func (s *Store) Lease(ctx context.Context, dest string, now time.Time, ttl time.Duration) (*gateway.Delivery, error) {
	token := newToken()
	v, err := lease.Run(ctx, s.rdb, []string{s.keys.due(dest)}, s.keys.tag, dest, ms(now), ttl.Milliseconds(), token, leaseScan).Slice()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable(err, "lease")
	}
	return s.leased(ctx, v, token)
}

// leased turns the lease scripts' reply (the delivery id, its hash's
// deliveryFields but the payload, its attempts) into the leased delivery
// with its payload.
func (s *Store) leased(ctx context.Context, reply []any, token string) (*gateway.Delivery, error) {
	if len(reply) != 3 {
		return nil, fmt.Errorf("lease: unexpected reply of %d parts", len(reply))
	}
	id, _ := reply[0].(string)
	fields, _ := reply[1].([]any)
	attempts, _ := reply[2].([]any)
	atts := make([]string, 0, len(attempts))
	for _, a := range attempts {
		if s, ok := a.(string); ok {
			atts = append(atts, s)
		}
	}
	d, err := s.delivery(ctx, id, fields, atts, true)
	if err != nil {
		return nil, err
	}
	d.Lease = token
	return d, nil
}

func newToken() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// CompleteAndLease implements gateway.Queue: one script, so one round trip
// between a worker's attempts, and nothing is leased unless the outcome
// was recorded. Redis has no per-write fsync to share.
func (s *Store) CompleteAndLease(ctx context.Context, id, leaseToken string, o gateway.Outcome, dest string, now time.Time, ttl time.Duration) (*gateway.Delivery, error) {
	args, err := s.completeArgs(id, leaseToken, o)
	if err != nil {
		return nil, err
	}
	token := newToken()
	args = append(args, dest, ms(now), ttl.Milliseconds(), token, leaseScan)
	res, err := completeAndLease.Run(ctx, s.rdb, []string{s.keys.delivery(id), s.keys.due(dest)}, args...).Result()
	reply, ok := res.([]any)
	if err != nil || !ok {
		text, _ := res.(string)
		return nil, s.leaseResult(text, err, id, "complete")
	}
	if len(reply) < 2 || reply[1] == nil {
		return nil, nil // recorded; nothing is due, or the lease failed (see the script)
	}
	next, _ := reply[1].([]any)
	d, err := s.leased(ctx, next, token)
	if err != nil {
		// The outcome is recorded: say so, as the embedded store does. The
		// delivery leased and not read goes back when its lease ends, and
		// the worker's next Lease meets the error itself.
		return nil, nil
	}
	return d, nil
}

// completeArgs are the complete script's arguments for an outcome.
func (s *Store) completeArgs(id, leaseToken string, o gateway.Outcome) ([]any, error) {
	att, err := json.Marshal(o.Attempt)
	if err != nil {
		return nil, err
	}
	return []any{s.keys.tag, id, leaseToken, string(o.State), att,
		ms(o.Attempt.At), ms(o.NextAttemptAt), o.Reason, o.Attempt.ReceiverRef, o.Attempt.Error}, nil
}

// Complete implements gateway.Queue.
func (s *Store) Complete(ctx context.Context, id, leaseToken string, o gateway.Outcome) error {
	args, err := s.completeArgs(id, leaseToken, o)
	if err != nil {
		return err
	}
	res, err := complete.Run(ctx, s.rdb, []string{s.keys.delivery(id)}, args...).Text()
	return s.leaseResult(res, err, id, "complete")
}

// Release implements gateway.Queue.
func (s *Store) Release(ctx context.Context, id, leaseToken string) error {
	res, err := release.Run(ctx, s.rdb, []string{s.keys.delivery(id)}, s.keys.tag, id, leaseToken, ms(time.Now())).Text()
	return s.leaseResult(res, err, id, "release")
}

func (s *Store) leaseResult(res string, err error, id, what string) error {
	if err != nil {
		return unavailable(err, what)
	}
	if res == "lost" {
		return gateway.Errorf(gateway.ELEASELOST, "the lease on delivery %s was lost", id)
	}
	return nil
}

// Replay implements gateway.Queue.
func (s *Store) Replay(ctx context.Context, id string, now time.Time, by string) error {
	marker, _ := json.Marshal(gateway.ReplayMarker(now, by))
	res, err := replay.Run(ctx, s.rdb, []string{s.keys.delivery(id)}, s.keys.tag, id, ms(now), marker).Text()
	if latest, ok := strings.CutPrefix(res, "replaced "); ok && err == nil {
		d, err := s.load(ctx, id, false)
		if err != nil {
			return err
		}
		n, _ := strconv.Atoi(latest)
		return gateway.Errorf(gateway.ECONFLICT, gateway.ReplacedMessage, id, d.Version, n)
	}
	return s.transition(res, err, id, "replayed", "only a dead, cancelled or retrying delivery can be replayed")
}

// Cancel implements gateway.Queue.
func (s *Store) Cancel(ctx context.Context, id string, now time.Time, by string) error {
	marker, _ := json.Marshal(gateway.CancelMarker(now, by))
	res, err := cancel.Run(ctx, s.rdb, []string{s.keys.delivery(id)}, s.keys.tag, id, ms(now), gateway.CancelReason(by), marker).Text()
	return s.transition(res, err, id, "cancelled", "only a pending, retrying or dead delivery can be cancelled")
}

func (s *Store) transition(res string, err error, id, what, rule string) error {
	switch {
	case err != nil:
		return unavailable(err, what)
	case res == "ok":
		return nil
	case res == "missing":
		return gateway.Errorf(gateway.ENOTFOUND, "delivery %s not found", id)
	default:
		return gateway.Errorf(gateway.ECONFLICT, "%s; %s is %s", rule, id, res)
	}
}

// Delivery implements gateway.Queue.
func (s *Store) Delivery(ctx context.Context, id string) (*gateway.Delivery, error) {
	return s.load(ctx, id, true)
}

// deliveryFields are the delivery hash fields a delivery is read from, in
// the order delivery takes them, its payload last; deliveryFieldsLua is
// the same list without the payload, for the lease scripts' HMGET: an
// HL7 v2 payload holds the PDF, which is not to pass through Lua.
var (
	deliveryFields    = []string{"json", "state", "updated", "next", "lease_until", "last_error", "receiver_ref", "reason", "payload"}
	deliveryFieldsLua = `"` + strings.Join(deliveryFields[:len(deliveryFields)-1], `", "`) + `"`
)

func (s *Store) load(ctx context.Context, id string, withPayload bool) (*gateway.Delivery, error) {
	fields := deliveryFields
	if !withPayload {
		fields = fields[:len(fields)-1]
	}
	pipe := s.rdb.Pipeline()
	hm := pipe.HMGet(ctx, s.keys.delivery(id), fields...)
	att := pipe.LRange(ctx, s.keys.attempts(id), 0, -1)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable(err, "read delivery")
	}
	return s.delivery(ctx, id, hm.Val(), att.Val(), withPayload)
}

// delivery builds delivery id from its hash's deliveryFields and its
// attempts. withPayload, it reads the payload from the report version it
// belongs to where the delivery sends that version's own Bundle or PDF,
// and otherwise takes it from v's last field, or reads it where v ends
// before it (the lease scripts leave it out).
func (s *Store) delivery(ctx context.Context, id string, v []any, attempts []string, withPayload bool) (*gateway.Delivery, error) {
	if len(v) == 0 || v[0] == nil {
		return nil, gateway.Errorf(gateway.ENOTFOUND, "delivery %s not found", id)
	}
	str := func(i int) string {
		if i >= len(v) {
			return ""
		}
		s, _ := v[i].(string)
		return s
	}
	var dd desc
	if err := json.Unmarshal([]byte(str(0)), &dd); err != nil {
		return nil, fmt.Errorf("decode delivery %s: %w", id, err)
	}
	d := &gateway.Delivery{ID: dd.ID, ReportID: dd.ReportID, Version: dd.Version, Destination: dd.Destination,
		ContentType: dd.ContentType, CreatedAt: dd.CreatedAt, PayloadOf: dd.PayloadOf, Recipient: dd.Recipient, Withdrawal: dd.Withdrawal, State: gateway.DeliveryState(str(1)),
		UpdatedAt: fromMS(str(2)), LastError: str(5), ReceiverRef: str(6), Reason: str(7), Attempts: []gateway.Attempt{}}
	if d.State == gateway.DeliveryRetrying || d.State == gateway.DeliveryPending {
		d.NextAttemptAt = fromMS(str(3))
	}
	if d.State == gateway.DeliveryInFlight {
		d.LeaseUntil = fromMS(str(4))
	}
	if withPayload {
		var err error
		switch dd.PayloadOf {
		case gateway.PayloadBundle, gateway.PayloadPDF:
			// The version's own Bundle (its PDF's base64 stored once, as the PDF) or PDF.
			v, pdf, err := s.readVersion(ctx, d.ReportID, d.Version, "bundle")
			if err != nil {
				return nil, err
			}
			bundle, _ := v[0].(string)
			if dd.PayloadOf == gateway.PayloadPDF {
				d.Payload = pdf
			} else if d.Payload, err = blob.UnpackBundle([]byte(bundle), pdf); err != nil {
				return nil, err
			}
		default:
			inline := str(8)
			if len(v) < len(deliveryFields) { // read without it (a lease)
				if inline, err = s.rdb.HGet(ctx, s.keys.delivery(id), "payload").Result(); err != nil && !errors.Is(err, redis.Nil) {
					return nil, unavailable(err, "read delivery")
				}
			}
			if d.Payload, err = blob.Unpack([]byte(inline)); err != nil {
				return nil, err
			}
		}
	}
	for _, a := range attempts {
		var at gateway.Attempt
		if err := json.Unmarshal([]byte(a), &at); err == nil {
			d.Attempts = append(d.Attempts, at)
		}
	}
	return d, nil
}

// Deliveries implements gateway.Queue, from the report's set or the
// listing zsets (by state, or by destination and state), a page at a time.
func (s *Store) Deliveries(ctx context.Context, f gateway.DeliveryFilter) ([]*gateway.Delivery, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	var ids []string
	if f.ReportID != "" {
		var err error
		if ids, err = s.rdb.SMembers(ctx, s.keys.byReport(f.ReportID)).Result(); err != nil {
			return nil, unavailable(err, "list deliveries")
		}
	} else {
		states := gateway.DeliveryStates
		if f.State != "" {
			states = []gateway.DeliveryState{f.State}
		}
		var lists [][]gateway.Listed
		for _, st := range states {
			key := s.keys.state(string(st))
			if f.Destination != "" {
				key = s.keys.destState(f.Destination, string(st))
			}
			l, err := s.newestFirst(ctx, key, f.After, limit)
			if err != nil {
				return nil, err
			}
			lists = append(lists, l)
		}
		ids = gateway.MergeNewest(lists, limit)
	}
	var out []*gateway.Delivery
	for _, id := range ids {
		d, err := s.load(ctx, id, false)
		if gateway.ErrorCode(err) == gateway.ENOTFOUND {
			continue
		}
		if err != nil {
			return nil, err
		}
		if (f.State == "" || d.State == f.State) && (f.Destination == "" || d.Destination == f.Destination) && f.After.Passes(d.UpdatedAt, d.ID) {
			out = append(out, d)
		}
	}
	gateway.SortNewestFirst(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// newestFirst reads up to limit entries of a listing zset after the
// cursor; entries that share the cursor's millisecond but not its place
// are skipped page by page.
func (s *Store) newestFirst(ctx context.Context, key string, after gateway.DeliveryCursor, limit int) ([]gateway.Listed, error) {
	maxScore := "+inf"
	if !after.UpdatedAt.IsZero() {
		maxScore = strconv.FormatInt(after.UpdatedAt.UnixMilli(), 10)
	}
	var out []gateway.Listed
	for offset := int64(0); len(out) < limit; {
		page, err := s.rdb.ZRevRangeByScoreWithScores(ctx, key, &redis.ZRangeBy{Max: maxScore, Min: "-inf", Offset: offset, Count: int64(limit)}).Result()
		if err != nil {
			return nil, unavailable(err, "list deliveries")
		}
		for _, z := range page {
			e := gateway.Listed{UpdatedMS: int64(z.Score), ID: z.Member.(string)}
			if after.Passes(time.UnixMilli(e.UpdatedMS), e.ID) && len(out) < limit {
				out = append(out, e)
			}
		}
		if len(page) < limit {
			break
		}
		offset += int64(len(page))
	}
	return out, nil
}

// buildDestState fills the per-destination listing zsets of a store
// written before they existed (once: a marker key records that it ran).
func (s *Store) buildDestState(ctx context.Context) error {
	marker := s.keys.tag + ":dstate-built"
	if n, err := s.rdb.Exists(ctx, marker).Result(); err != nil || n == 1 {
		return unavailable(err, "build listing index")
	}
	for _, st := range gateway.DeliveryStates {
		zs, err := s.rdb.ZRangeWithScores(ctx, s.keys.state(string(st)), 0, -1).Result()
		if err != nil {
			return unavailable(err, "build listing index")
		}
		for _, z := range zs {
			d, err := s.load(ctx, z.Member.(string), false)
			if err != nil {
				continue // gone since
			}
			// Added only if the delivery is still in that state: another
			// replica may be moving it on while this one builds.
			if err := indexIfState.Run(ctx, s.rdb, []string{s.keys.delivery(d.ID)}, s.keys.delivery(d.ID),
				s.keys.destState(d.Destination, string(st)), z.Score, d.ID, string(st)).Err(); err != nil {
				return unavailable(err, "build listing index")
			}
		}
	}
	return unavailable(s.rdb.Set(ctx, marker, "1", 0).Err(), "build listing index")
}

// Counts implements gateway.Queue.
func (s *Store) Counts(ctx context.Context) (map[string]map[gateway.DeliveryState]int, error) {
	h, err := s.rdb.HGetAll(ctx, s.keys.counts()).Result()
	if err != nil {
		return nil, unavailable(err, "count deliveries")
	}
	out := map[string]map[gateway.DeliveryState]int{}
	for k, v := range h {
		dest, state, ok := strings.Cut(k, "|")
		n, _ := strconv.Atoi(v)
		if !ok || n == 0 {
			continue
		}
		if out[dest] == nil {
			out[dest] = map[gateway.DeliveryState]int{}
		}
		out[dest][gateway.DeliveryState(state)] = n
	}
	return out, nil
}

// NextDue implements gateway.Queue: the head of dest's due zset.
func (s *Store) NextDue(ctx context.Context, dest string) (time.Time, bool, error) {
	z, err := s.rdb.ZRangeWithScores(ctx, s.keys.due(dest), 0, 0).Result()
	if err != nil {
		return time.Time{}, false, unavailable(err, "read next due")
	}
	if len(z) == 0 {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(int64(z[0].Score)).UTC(), true, nil
}

// OldestWaiting implements gateway.Queue: the head of each destination's
// waiting set, pipelined.
func (s *Store) OldestWaiting(ctx context.Context, destinations []string) (map[string]time.Time, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.ZSliceCmd, len(destinations))
	for i, d := range destinations {
		cmds[i] = pipe.ZRangeWithScores(ctx, s.keys.waiting(d), 0, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, unavailable(err, "read queue age")
	}
	out := map[string]time.Time{}
	for i, c := range cmds {
		if z := c.Val(); len(z) == 1 {
			out[destinations[i]] = time.UnixMilli(int64(z[0].Score)).UTC()
		}
	}
	return out, nil
}

// buildWaiting fills the waiting sets of a store written before they
// existed (once: a marker key records that it ran).
func (s *Store) buildWaiting(ctx context.Context) error {
	marker := s.keys.tag + ":waiting-built"
	if n, err := s.rdb.Exists(ctx, marker).Result(); err != nil || n == 1 {
		return unavailable(err, "build waiting index")
	}
	for _, st := range []gateway.DeliveryState{gateway.DeliveryPending, gateway.DeliveryRetrying, gateway.DeliveryInFlight} {
		ids, err := s.rdb.ZRange(ctx, s.keys.state(string(st)), 0, -1).Result()
		if err != nil {
			return unavailable(err, "build waiting index")
		}
		for _, id := range ids {
			d, err := s.Delivery(ctx, id)
			if err != nil {
				continue // gone since: nothing waits
			}
			if err := indexIfState.Run(ctx, s.rdb, []string{s.keys.delivery(id)}, s.keys.delivery(id), s.keys.waiting(d.Destination),
				d.WaitingSince().UnixMilli(), id, "pending", "retrying", "in-flight").Err(); err != nil {
				return unavailable(err, "build waiting index")
			}
		}
	}
	return unavailable(s.rdb.Set(ctx, marker, "1", 0).Err(), "build waiting index")
}

// SetPaused implements gateway.Queue.
func (s *Store) SetPaused(ctx context.Context, dest string, paused bool) error {
	var err error
	if paused {
		err = s.rdb.SAdd(ctx, s.keys.paused(), dest).Err()
	} else {
		err = s.rdb.SRem(ctx, s.keys.paused(), dest).Err()
	}
	return unavailable(err, "pause destination")
}

// Paused implements gateway.Queue.
func (s *Store) Paused(ctx context.Context) (map[string]bool, error) {
	names, err := s.rdb.SMembers(ctx, s.keys.paused()).Result()
	if err != nil {
		return nil, unavailable(err, "read paused destinations")
	}
	out := make(map[string]bool, len(names))
	for _, n := range names {
		out[n] = true
	}
	return out, nil
}

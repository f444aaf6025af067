package redisstore

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// Every key lives under one hash tag, {prefix}, so every Lua script touches
// a single slot and works unchanged on Redis Cluster (at the price of the
// gateway's data sitting in one slot: a report, its deliveries and the queues
// must change together atomically). Scripts build the keys below from the
// tag passed as their first argument; this file is the one list of them.
//
//	{p}:report:<id>              hash   latest version, lab ODS code
//	{p}:versions:<id>            zset   version -> version
//	{p}:rv:<id>:<version>        hash   meta (JSON), report, bundle, and pdf unless the store has PDFKeys
//	{p}:pdf:<id>:<version>       string the version's PDF, with PDFKeys (sent beside the save script: see saveWithPDF)
//	{p}:up:<token>               string a PDF on its way into one save; the save renames or deletes it, and it expires if the save never ran
//	{p}:d:<delivery id>          hash   delivery fields and payload (see scripts.go)
//	{p}:att:<delivery id>        list   attempt JSON, oldest first
//	{p}:due:<destination>        zset   delivery id -> due time (ms): pending, retrying, and in flight until the lease ends
//	{p}:order:<dest>:<report id> hash   max, inflight, delivered versions
//	{p}:waiting:<dest>           zset   delivery id -> waiting since (ms: created or replayed) while pending, retrying or in flight
//	{p}:state:<state>            zset   delivery id -> last change (ms), for listing
//	{p}:dstate:<dest>:<state>    zset   delivery id -> last change (ms): one destination's listing
//	{p}:byreport:<report id>     set    delivery ids
//	{p}:counts                   hash   "<dest>|<state>" -> count
//	{p}:idx:upd:<trust or *>     zset   report id -> last received (ms), for newest-first paging
//	{p}:idx:pat:<hmac>           set    report ids about the patient: hex HMAC-SHA256 of the NHS
//	                                    number under the deployment's index key, so no key name
//	                                    (seen by SCAN, MONITOR, the slow log) holds a patient identifier
//	{p}:idx:res:<Type/id>        set    report ids whose Bundle holds the resource
//	{p}:indexkey                 string the fingerprint of the index key the patient index is named under (see checkIndexKey)
//	{p}:ready                    string written by Ping (readiness, the store alert) to prove Redis takes writes; expires in a minute
type keys struct {
	tag      string
	indexKey []byte // the HMAC key for patient index names
}

func newKeys(prefix string, indexKey []byte) keys {
	if len(indexKey) == 0 {
		sum := sha256.Sum256([]byte("results-gateway patient index " + prefix))
		indexKey = sum[:] // no secret: names still hold no number, but a deployment sets its own (GATEWAY_INDEX_KEY)
	}
	return keys{tag: "{" + prefix + "}", indexKey: indexKey}
}

// patientToken is the patient index's name for an NHS number.
func (k keys) patientToken(nhs string) string {
	if nhs == "" {
		return ""
	}
	m := hmac.New(sha256.New, k.indexKey)
	m.Write([]byte(nhs))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// fingerprint names the index key without revealing it: an HMAC, under
// the key, of a fixed text.
func (k keys) fingerprint() string {
	m := hmac.New(sha256.New, k.indexKey)
	m.Write([]byte("results-gateway index key check"))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

func (k keys) indexKeyCheck() string { return k.tag + ":indexkey" }
func (k keys) ready() string         { return k.tag + ":ready" }

func (k keys) report(id string) string   { return k.tag + ":report:" + id }
func (k keys) versions(id string) string { return k.tag + ":versions:" + id }
func (k keys) reportVersion(id string, v int) string {
	return k.tag + ":rv:" + id + ":" + strconv.Itoa(v)
}
func (k keys) versionPDF(id string, v int) string {
	return k.tag + ":pdf:" + id + ":" + strconv.Itoa(v)
}
func (k keys) upload(token string) string { return k.tag + ":up:" + token }
func (k keys) delivery(id string) string  { return k.tag + ":d:" + id }
func (k keys) attempts(id string) string  { return k.tag + ":att:" + id }
func (k keys) due(dest string) string     { return k.tag + ":due:" + dest }
func (k keys) waiting(dest string) string { return k.tag + ":waiting:" + dest }
func (k keys) state(state string) string  { return k.tag + ":state:" + state }
func (k keys) destState(dest, state string) string {
	return k.tag + ":dstate:" + dest + ":" + state
}
func (k keys) byReport(reportID string) string { return k.tag + ":byreport:" + reportID }
func (k keys) counts() string                  { return k.tag + ":counts" }

func (k keys) updated(trust string) string { return k.tag + ":idx:upd:" + trust }
func (k keys) patient(nhs string) string   { return k.tag + ":idx:pat:" + k.patientToken(nhs) }
func (k keys) resource(ref string) string  { return k.tag + ":idx:res:" + ref }

// {p}:audit:<report id>  list  access records (JSON), oldest first
func (k keys) audit(reportID string) string { return k.tag + ":audit:" + reportID }

// Inbound messages: {p}:msgs (sorted set by arrival ms) and {p}:msg:<id>
// (hash: meta JSON, raw content).
func (k keys) messages() string         { return k.tag + ":msgs" }
func (k keys) message(id string) string { return k.tag + ":msg:" + id }

// {p}:held  zset  report id -> received ms: accepted for a trust with no destination yet
func (k keys) held() string { return k.tag + ":held" }

// {p}:act:<hour ms>  hash  counter name -> count for that hour (gateway.ReceivedCounter,
// FinishedCounter); expires after gateway.ActivityRetention
func (k keys) activity(hour int64) string { return k.tag + ":act:" + strconv.FormatInt(hour, 10) }

// {p}:paused  set  destinations an operator has paused
func (k keys) paused() string { return k.tag + ":paused" }

package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/internal/fhirjson"
)

// readableTypes are the resource types the pull API serves by id.
var readableTypes = map[string]bool{
	"DiagnosticReport": true, "Observation": true, "Patient": true, "Specimen": true, "ServiceRequest": true,
	"DocumentReference": true, "Provenance": true, "Binary": true, "Organization": true, "Practitioner": true,
	"PractitionerRole": true, "Procedure": true,
}

// served is one report version's Bundle opened up as resources with
// logical ids: each entry's urn:uuid becomes its id and references become
// Type/id, as a FHIR server would have them.
type served struct {
	rec       *gateway.ReportRecord
	resources map[string]map[string]any // "Type/id" -> resource
	order     []string
}

func openBundle(rec *gateway.ReportRecord) (*served, error) {
	var b struct {
		Entry []struct {
			FullURL  string         `json:"fullUrl"`
			Resource map[string]any `json:"resource"`
			Request  struct {
				IfNoneExist string `json:"ifNoneExist"`
			} `json:"request"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(rec.Bundle, &b); err != nil {
		return nil, fmt.Errorf("open stored bundle of %s: %w", rec.ID, err)
	}
	s := &served{rec: rec, resources: map[string]map[string]any{}}
	refs := map[string]string{}
	var binaries []string // the PDF's Binary entry: served as Binary/<the DocumentReference's id>/_history/<version> (binaryFor)
	docID := ""
	for _, e := range b.Entry {
		if e.Resource["resourceType"] == "DocumentReference" && docID == "" {
			docID = strings.TrimPrefix(e.FullURL, "urn:uuid:")
		}
	}
	entries := b.Entry[:0]
	for _, e := range b.Entry {
		typ, _ := e.Resource["resourceType"].(string)
		if typ == "Binary" {
			binaries = append(binaries, e.FullURL)
			continue
		}
		ref := typ + "/" + strings.TrimPrefix(e.FullURL, "urn:uuid:")
		refs[e.FullURL] = ref
		s.order = append(s.order, ref)
		entries = append(entries, e)
	}
	for _, full := range binaries {
		// Version-specific: once a newer version arrives, Binary/<id> is
		// its PDF, and an earlier version's presentedForm (its hash
		// that PDF's) must still lead to its own.
		refs[full] = "Binary/" + docID + "/_history/" + fmt.Sprint(rec.Version)
	}
	for i, e := range entries {
		ref := s.order[i]
		fhirjson.RewriteReferences(e.Resource, refs)
		e.Resource["id"] = ref[strings.IndexByte(ref, '/')+1:]
		meta, _ := e.Resource["meta"].(map[string]any)
		if meta == nil {
			meta = map[string]any{}
		}
		meta["versionId"] = fmt.Sprint(rec.Version)
		if e.Request.IfNoneExist != "" {
			// Shared by every report that names it (a patient, an
			// organisation, a practitioner: conditionally created, with an id
			// from its identifier): each report's copy is a version of its
			// own, told apart by its content, not by one report's version.
			meta["versionId"] = contentVersion(e.Resource)
		}
		meta["lastUpdated"] = rec.ReceivedAt.UTC().Format(time.RFC3339Nano)
		e.Resource["meta"] = meta
		s.resources[ref] = e.Resource
	}
	return s, nil
}

// contentVersionPattern is what contentVersion writes: 16 base32 letters.
var contentVersionPattern = regexp.MustCompile(`^[a-z2-7]{16}$`)

// contentVersion is the versionId of a resource shared between reports: a
// digest of its content (meta aside), so a change of content is a new
// version and the same content in two reports is one. base32, so it is
// never a report's version number, which a vread of a report's own
// resources names.
func contentVersion(res map[string]any) string {
	without := maps.Clone(res)
	delete(without, "meta")
	content, _ := json.Marshal(without) // sorted keys: the same content is the same bytes
	sum := sha256.Sum256(content)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:10]))
}

// ofType lists the resources of a type in Bundle order.
func (s *served) ofType(typ string) []map[string]any {
	var out []map[string]any
	for _, ref := range s.order {
		if strings.HasPrefix(ref, typ+"/") {
			out = append(out, s.resources[ref])
		}
	}
	return out
}

// binaryFor is the Binary (the PDF) of a report version; its id is the
// DocumentReference's, so one id leads to the document and its content.
func binaryFor(s *served) (string, map[string]any) {
	docs := s.ofType("DocumentReference")
	if len(docs) == 0 {
		return "", nil
	}
	id := docs[0]["id"].(string)
	return id, map[string]any{"resourceType": "Binary", "id": id, "contentType": "application/pdf", "data": s.rec.PDF,
		"meta": map[string]any{"versionId": fmt.Sprint(s.rec.Version), "lastUpdated": s.rec.ReceivedAt.UTC().Format(time.RFC3339Nano)}}
}

// locate finds the reports holding ref that the caller may read, newest
// first. Reports it may not read are reported separately, for the audit.
func (s *server) locate(ctx context.Context, who gateway.Principal, ref string) (readable, denied []*gateway.ReportRecord, err error) {
	lookup := ref
	if typ, id, _ := strings.Cut(ref, "/"); typ == "Binary" {
		lookup = "DocumentReference/" + id
	}
	ids, many, err := s.Index.ResourceHolders(ctx, lookup, manyHolders)
	if err != nil {
		return nil, nil, err
	}
	if many {
		return s.locateNewest(ctx, who, lookup)
	}
	return s.sortHolders(ctx, who, ids)
}

// manyHolders: above this many reports holding one resource (a lab's
// Organization is in every report it sends), locate walks the reports
// newest first to the first holder the caller may read, rather than
// reading every holder's record: with 20 000 reports from one lab, reading
// its Organization took a third of a second, and it grew with every report.
const manyHolders = 64

// sortHolders reads every holder's record: the readable newest first.
func (s *server) sortHolders(ctx context.Context, who gateway.Principal, ids []string) (readable, denied []*gateway.ReportRecord, err error) {
	metas, err := s.Index.ReportMetas(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	for _, m := range metas {
		if who.CanRead(m) {
			readable = append(readable, m)
		} else {
			denied = append(denied, m)
		}
	}
	sort.Slice(readable, func(i, j int) bool { return readable[j].ReceivedAt.Before(readable[i].ReceivedAt) })
	return readable, denied, nil
}

// locateNewest finds the newest holder of ref the caller may read by
// paging through the reports it may read (its trust's, or every trust's)
// newest first, as search does, asking the index which of each page hold
// ref and reading the records only of those, a few at a time. Reports of
// one millisecond are in the index by id, so the walk reads on through
// the millisecond of the first it may read and takes the newest by full
// time. If the walk finds none within walkPages pages, every holder is read
// the plain way, so the answer, and the audit's list of holders the caller
// was denied, are the ones reading every holder gives; only a caller who
// may read none of the newest holders pays that, as every caller did.
func (s *server) locateNewest(ctx context.Context, who gateway.Principal, ref string) (readable, denied []*gateway.ReportRecord, err error) {
	trust := ""
	if who.Role == gateway.RoleTrust && len(who.AlsoTrusts) == 0 {
		trust = who.ODSCode
	}
	var cur gateway.UpdatedCursor
	var best *gateway.ReportRecord
	walked := false // to the end of the index
	for pages := 0; pages < walkPages; pages++ {
		page, err := s.Index.ReportsUpdated(ctx, trust, cur.At, cur.ID, 256)
		if err != nil {
			return nil, nil, err
		}
		if len(page) == 0 {
			walked = true
			break
		}
		held, err := s.Index.HoldResource(ctx, ref, page)
		if err != nil {
			return nil, nil, err
		}
		var hits []string
		for i, id := range page {
			if held[i] {
				hits = append(hits, id)
			}
		}
		for len(hits) > 0 {
			chunk := hits[:min(len(hits), 16)]
			hits = hits[len(chunk):]
			metas, err := s.Index.ReportMetas(ctx, chunk)
			if err != nil {
				return nil, nil, err
			}
			for _, m := range metas { // in the index's order
				if best != nil && m.ReceivedAt.UnixMilli() < best.ReceivedAt.UnixMilli() {
					return []*gateway.ReportRecord{best}, nil, nil
				}
				if who.CanRead(m) && (best == nil || m.ReceivedAt.After(best.ReceivedAt)) {
					best = m
				}
			}
		}
		last, err := s.Index.ReportMetas(ctx, page[len(page)-1:])
		if err != nil {
			return nil, nil, err
		}
		if len(last) == 0 || !cur.Pass(last[0]) {
			break // pruned as we read, or out of place: the plain way below
		}
		if best != nil && cur.At.UnixMilli() < best.ReceivedAt.UnixMilli() {
			return []*gateway.ReportRecord{best}, nil, nil
		}
	}
	if best != nil && walked {
		return []*gateway.ReportRecord{best}, nil, nil
	}
	ids, err := s.Index.ResourceReports(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	return s.sortHolders(ctx, who, ids)
}

// walkPages bounds locateNewest's walk (256 reports a page) before it
// reads every holder instead.
const walkPages = 8

func ids(recs []*gateway.ReportRecord) []string {
	out := make([]string, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.ID)
	}
	return out
}

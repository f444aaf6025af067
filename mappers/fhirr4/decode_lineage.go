package fhirr4

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// previousOrder reads the earlier order a re-interpretation's request is
// based on (ServiceRequest.basedOn, by identifier).
func (d *fhirDecoder) previousOrder(sr bundleEntry) {
	p := d.r.Previous
	if p == nil {
		return // a request based on another is not, by itself, a report that follows one
	}
	for _, b := range sr.res.list("basedOn") {
		id := b.obj("identifier")
		if id == nil {
			continue
		}
		switch {
		case id.str("system") == systemGMSOrder:
			p.OrderNumber = id.str("value")
		case strings.HasSuffix(id.str("system"), "/Id/order"):
			if trust, ok := strings.CutSuffix(id.str("value"), "-"+p.ID); ok && p.ID != "" {
				p.OrderingTrust = trust
			} else if trust, number, ok := strings.Cut(id.str("value"), "-"); ok && p.OrderNumber == "" {
				// The orderer's own number, as trust-number (ODS codes have no dashes).
				p.OrderingTrust, p.OrderNumber, p.OrderNumberLocal = trust, number, true
			}
		}
	}
}

// lineage reads the report this one re-interprets from the Provenance: the
// entity it derives from (that version's document identifier) and why.
func (d *fhirDecoder) lineage() {
	for _, e := range d.entries {
		if e.res.str("resourceType") != "Provenance" {
			continue
		}
		for _, ent := range e.res.list("entity") {
			if ent.str("role") != "derivation" {
				continue
			}
			// Only a report, named by the gateway's report or document
			// identifiers, is a previous report; a derivation from anything
			// else (a VCF, a sample) is not.
			id := ent.obj("what").obj("identifier")
			value := id.str("value")
			var p gateway.PreviousReport
			switch {
			case strings.HasSuffix(id.str("system"), "/Id/document-version"):
				if i := strings.LastIndex(value, "-v"); i > 0 {
					p.ID = value[:i]
					p.Version, _ = strconv.Atoi(value[i+2:])
				}
			case strings.HasSuffix(id.str("system"), "/Id/report"):
				p.ID = value
			}
			if p.ID == "" {
				continue
			}
			d.r.Previous = &p
			for _, reason := range e.res.list("reason") {
				for rel, words := range relationWords {
					if rel != "" && reason.str("text") == words {
						d.r.Previous.Relation = rel
					}
				}
			}
		}
	}
}

// copyTo reads each CommunicationRequest about the report (send a copy to
// this organisation) as a copy-to recipient.
func (d *fhirDecoder) copyTo(dr bundleEntry) {
	for i, e := range d.entries {
		if e.res.str("resourceType") != "CommunicationRequest" {
			continue
		}
		about := false
		for _, a := range e.res.list("about") {
			if target, ok := d.resolve(a, e); ok && target.path == dr.path {
				about = true
			}
		}
		if !about {
			continue
		}
		d.used[i] = true
		for _, rc := range e.res.list("recipient") {
			if id := rc.obj("identifier"); id.str("system") == systemODS && id.str("value") != "" {
				d.r.CopyTo = append(d.r.CopyTo, gateway.Organisation{ODSCode: id.str("value"), Name: rc.str("display")})
				d.at(fmt.Sprintf("copyTo[%d]", len(d.r.CopyTo)-1), e.path)
			} else if org, _, ok := d.organisation(rc, e); ok {
				d.r.CopyTo = append(d.r.CopyTo, org)
			}
		}
	}
}

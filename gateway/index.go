package gateway

import (
	"context"
	"time"
)

// ReportIndex finds reports and resources for the pull API through indexes
// kept in the same atomic step as each report, never by scanning reports.
type ReportIndex interface {
	// ReportsForPatient lists the ids of the reports about an NHS number.
	ReportsForPatient(ctx context.Context, nhsNumber string) ([]string, error)

	// ReportsUpdated lists report ids of a trust ("" for every trust), most
	// recently updated first, starting strictly after the cursor (received
	// time and id of the last one seen; zero time to start), at most limit.
	ReportsUpdated(ctx context.Context, trust string, before time.Time, beforeID string, limit int) ([]string, error)

	// ResourceReports lists the reports whose Bundle holds a resource
	// ("Type/id"); a patient or organisation can be in many.
	ResourceReports(ctx context.Context, ref string) ([]string, error)

	// ResourceHolders is ResourceReports for at most limit holders: with
	// more (a lab's Organization is in every report it sends) it says so
	// and lists none, without reading them.
	ResourceHolders(ctx context.Context, ref string, limit int) (ids []string, more bool, err error)

	// HoldResource says, for each id, whether that report's Bundle holds
	// the resource.
	HoldResource(ctx context.Context, ref string, ids []string) ([]bool, error)

	// ReportMetas returns the latest version of each report without its
	// blobs (Bundle, PDF, normalised report); missing ids are left out.
	ReportMetas(ctx context.Context, ids []string) ([]*ReportRecord, error)
}

// UpdatedCursor is a place in a newest-first walk of ReportsUpdated: the
// received time and id of the last report passed (zero to start).
type UpdatedCursor struct {
	At time.Time
	ID string
}

// Pass moves the cursor to rec if rec lies beyond it in the index's order
// (milliseconds, then id, both descending) and says whether it moved. It
// may not: the index can hold a report under an earlier time than its
// latest record has (a new version saved while the walk runs; a recipient
// an earlier release left listed after an amendment dropped it), and a
// cursor moved back to that time would bring the same page again, for
// ever. A page that moves it nowhere ends the walk.
func (c *UpdatedCursor) Pass(rec *ReportRecord) bool {
	ms, at := rec.ReceivedAt.UnixMilli(), c.At.UnixMilli()
	if !c.At.IsZero() && (ms > at || ms == at && rec.ID >= c.ID) {
		return false
	}
	c.At, c.ID = rec.ReceivedAt, rec.ID
	return true
}

// WalkUpdated visits the reports ReportsUpdated lists for trust ("" for
// every trust's), newest first from cur, reading size at a time with their
// records, until visit says stop or fails, or the index runs out. A report
// the cursor cannot pass (see UpdatedCursor.Pass) is skipped, and a page of
// nothing but those, or of reports pruned as it was read, ends the walk.
func WalkUpdated(ctx context.Context, ix ReportIndex, trust string, cur UpdatedCursor, size int, visit func(*ReportRecord) (stop bool, err error)) error {
	for {
		ids, err := ix.ReportsUpdated(ctx, trust, cur.At, cur.ID, size)
		if err != nil || len(ids) == 0 {
			return err
		}
		metas, err := ix.ReportMetas(ctx, ids)
		if err != nil {
			return err
		}
		moved := false
		for _, rec := range metas {
			if !cur.Pass(rec) {
				continue // updated since the walk passed its time
			}
			moved = true
			if stop, err := visit(rec); stop || err != nil {
				return err
			}
		}
		if !moved {
			return nil
		}
	}
}

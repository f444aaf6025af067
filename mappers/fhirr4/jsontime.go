package fhirr4

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// formatTime writes a FHIR date, dateTime, instant or time (typeName) as
// jsonformat does: the instant us (microseconds since 1970) in its own
// time zone, to its precision (the precision enum's name: DAY, SECOND ...).
func formatTime(typeName string, us int64, tz, precision string) (string, error) {
	if typeName == "Time" {
		t := time.Unix(us/1e6, (us%1e6)*1000).UTC()
		switch precision {
		case "SECOND":
			return t.Format("15:04:05"), nil
		case "MILLISECOND":
			return t.Format("15:04:05.000"), nil
		case "MICROSECOND":
			return t.Format("15:04:05.000000"), nil
		}
		return "", fmt.Errorf("fhir json writer: time precision %s", precision)
	}
	loc, err := location(tz)
	if err != nil {
		return "", err
	}
	t := time.Unix(us/1e6, (us%1e6)*1000).In(loc)
	utc := tz == "Z"
	switch precision {
	case "YEAR":
		return t.Format("2006"), nil
	case "MONTH":
		return t.Format("2006-01"), nil
	case "DAY":
		return t.Format("2006-01-02"), nil
	case "SECOND":
		if utc {
			return t.Format("2006-01-02T15:04:05Z"), nil
		}
		return t.Format("2006-01-02T15:04:05-07:00"), nil
	case "MILLISECOND":
		if utc {
			return t.Format("2006-01-02T15:04:05.000Z"), nil
		}
		return t.Format("2006-01-02T15:04:05.000-07:00"), nil
	case "MICROSECOND":
		if utc {
			return t.Format("2006-01-02T15:04:05.000000Z"), nil
		}
		return t.Format("2006-01-02T15:04:05.000000-07:00"), nil
	}
	return "", fmt.Errorf("fhir json writer: %s precision %s", typeName, precision)
}

var locations sync.Map // time zone as stored -> *time.Location

// location reads a stored time zone: "Z", an IANA name or an offset
// "+01:00", as jsonformat does, loading each once.
func location(tz string) (*time.Location, error) {
	if tz == "Z" {
		return time.UTC, nil
	}
	if l, ok := locations.Load(tz); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(tz)
	if err != nil {
		offset, ok := offsetSeconds(tz)
		if !ok {
			return nil, fmt.Errorf("fhir json writer: time zone %q", tz)
		}
		l = time.FixedZone(tz, offset)
	}
	locations.Store(tz, l)
	return l, nil
}

func offsetSeconds(tz string) (int, bool) {
	if tz == "" {
		return 0, true
	}
	if tz[0] != '+' && tz[0] != '-' {
		return 0, false
	}
	h, m, ok := strings.Cut(tz[1:], ":")
	hours, err1 := strconv.Atoi(h)
	minutes, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil {
		return 0, false
	}
	s := hours*3600 + minutes*60
	if tz[0] == '-' {
		s = -s
	}
	return s, true
}

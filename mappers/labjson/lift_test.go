package labjson

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/nhs-genomics/results-gateway/fixtures"
	"github.com/nhs-genomics/results-gateway/gateway"
)

// sameAsUnmarshal holds decodeLifted to json.Unmarshal: the same report,
// or the same error text, for any body. Where it says where the PDF's
// base64 was read (DataAt), the body holds exactly the PDF's standard
// base64 as a string there.
func sameAsUnmarshal(t *testing.T, body []byte) {
	t.Helper()
	var want, got gateway.Report
	wantErr := json.Unmarshal(body, &want)
	gotErr := decodeLifted(body, &got)
	if (wantErr == nil) != (gotErr == nil) || wantErr != nil && wantErr.Error() != gotErr.Error() {
		t.Fatalf("error %v, want %v\nbody %.300q", gotErr, wantErr, body)
	}
	if got.PDF != nil && got.PDF.DataAt != 0 {
		quoted := `"` + base64.StdEncoding.EncodeToString(got.PDF.Data) + `"`
		if at := got.PDF.DataAt; at+len(quoted) > len(body) || string(body[at:at+len(quoted)]) != quoted {
			t.Fatalf("DataAt %d does not hold the PDF's standard base64\nbody %.300q", at, body)
		}
		if !bytes.Equal(got.PDF.Encoded, []byte(quoted[1:len(quoted)-1])) {
			t.Fatalf("Encoded is not the PDF's standard base64\nbody %.300q", body)
		}
		got.PDF.DataAt, got.PDF.Encoded = 0, nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded differently from json.Unmarshal\nbody %.300q", body)
	}
}

func withPDF(t testing.TB, pdfJSON string) []byte {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(fixtures.Report("trio-wgs-denovo-positive"), &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "pdf")
	body, _ := json.Marshal(m)
	return []byte(strings.Replace(string(body), "{", "{"+pdfJSON, 1))
}

func TestLiftedDecodeIsUnmarshal(t *testing.T) {
	pdf := base64.StdEncoding.EncodeToString([]byte("%PDF-1.4\n\x00\x01\xfe\xff some bytes of a report"))
	cases := map[string]string{
		"plain":                 `"pdf":{"contentType":"application/pdf","data":"` + pdf + `"},`,
		"data first, spaced":    `"pdf" : { "data" : "` + pdf + `" , "title":"x"} ,`,
		"empty data":            `"pdf":{"data":""},`,
		"not base64":            `"pdf":{"data":"not base64!"},`,
		"bad padding":           `"pdf":{"data":"` + pdf[:len(pdf)-1] + `"},`,
		"escaped slash":         `"pdf":{"data":"` + strings.Replace(pdf, "/", `\/`, -1) + `\/"},`,
		"URL-safe alphabet":     `"pdf":{"data":"-_-_"},`,
		"padding bits set":      `"pdf":{"data":"QUJDRR=="},`, // decodes as QUJDRQ== does
		"number":                `"pdf":{"data":12},`,
		"null pdf":              `"pdf":null,`,
		"pdf a string":          `"pdf":"` + pdf + `",`,
		"key in capitals":       `"PDF":{"data":"` + pdf + `"},`,
		"data in capitals":      `"pdf":{"Data":"` + pdf + `"},`,
		"twice":                 `"pdf":{"data":"` + pdf + `"},"pdf":{"data":"QUJD"},`,
		"twice, other spelling": `"pdf":{"data":"` + pdf + `"},"Pdf":{"title":"t"},`,
		"data twice":            `"pdf":{"data":"` + pdf + `","data":"QUJD"},`,
		"escaped key":           `"p\u0064f":{"data":"` + pdf + `"},`,
		"nested decoy":          `"extra":{"pdf":{"data":"QUJD"}},"pdf":{"data":"` + pdf + `"},`,
		"wrong type elsewhere":  `"pdf":{"data":"` + pdf + `"},"testCode":12,`,
		"syntax error after":    `"pdf":{"data":"` + pdf + `"},"x":[1,,2],`,
		"unterminated":          `"pdf":{"data":"` + pdf,
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) { sameAsUnmarshal(t, withPDF(t, c)) })
	}
	if _, pdf, ok := liftPDFData(withPDF(t, cases["plain"])); !ok || pdf.at == 0 {
		t.Fatal("the ordinary shape was not lifted: the fast path is never taken")
	}
}

func FuzzLiftedDecode(f *testing.F) {
	for _, fx := range fixtures.Reports() {
		f.Add(fixtures.Report(fx.Name))
	}
	f.Add(withPDF(f, `"pdf":{"data":"QUJD"},`))
	f.Add(withPDF(f, `"pdf":{"data":"QUJD","data":"QUJE"},`))
	f.Fuzz(func(t *testing.T, body []byte) { sameAsUnmarshal(t, body) })
}

// Base64 decoding skips line breaks, which JSON refuses raw in a string:
// the lifted decode must refuse them too.
func TestLiftedDecodeRefusesRawLineBreaks(t *testing.T) {
	for _, brk := range []string{"\n", "\r", "\r\n"} {
		sameAsUnmarshal(t, withPDF(t, `"pdf":{"data":"QUJD`+brk+`QUJD"},`))
		sameAsUnmarshal(t, withPDF(t, `"pdf":{"data":"QUJD\t`+brk+`"},`))
	}
}

// The base64 decoder works in blocks: a bad character anywhere in a long
// PDF (early, on a block's edge, in its last quantum) must still make
// exactly the answer json.Unmarshal gives.
func TestLiftedDecodeOfLongPDFsIsUnmarshal(t *testing.T) {
	data := make([]byte, 3000)
	for i := range data {
		data[i] = byte(i*131 + i>>3)
	}
	good := base64.StdEncoding.EncodeToString(data)
	sameAsUnmarshal(t, withPDF(t, `"pdf":{"data":"`+good+`"},`))
	for _, at := range []int{0, 1, 31, 32, 33, 63, 64, 100, 1000, len(good) - 5, len(good) - 3, len(good) - 1} {
		for _, bad := range []string{"!", "-", "_", "=", " ", "\\/"} {
			text := good[:at] + bad + good[at+1:]
			sameAsUnmarshal(t, withPDF(t, `"pdf":{"data":"`+text+`"},`))
		}
	}
	// Padding bits set in the last quantum (3000 bytes: no padding, so use 2999).
	odd := base64.StdEncoding.EncodeToString(data[:2999])
	lax := odd[:len(odd)-2] + "B="
	sameAsUnmarshal(t, withPDF(t, `"pdf":{"data":"`+lax+`"},`))
}

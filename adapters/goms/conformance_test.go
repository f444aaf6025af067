package goms_test

import (
	"fmt"
	"testing"

	"github.com/nhs-genomics/results-gateway/adapters/adaptertest"
	"github.com/nhs-genomics/results-gateway/gateway"
	"github.com/nhs-genomics/results-gateway/internal/gomsstub"
)

// stubPeer maps the suite's peer behaviours to the stand-in's fault switches.
type stubPeer struct{ s *gomsstub.Stub }

func (p stubPeer) Accept()       { p.s.Set(gomsstub.Accept, "") }
func (p stubPeer) Fail()         { p.s.Set(gomsstub.Fail, "") }
func (p stubPeer) Reject()       { p.s.Set(gomsstub.Reject, "") }
func (p stubPeer) Hang()         { p.s.Set(gomsstub.Hang, "") }
func (p stubPeer) Received() int { return p.s.Reports() }

func TestConformance(t *testing.T) {
	e := newEnv(t, true)
	adaptertest.Run(t, adaptertest.Harness{
		Peer: stubPeer{e.stub},
		New:  func(t *testing.T) gateway.Adapter { return newAdapter(t, e.config("")) },
		Absent: func(t *testing.T) gateway.Adapter {
			addr := closedPort(t)
			return newAdapter(t, fmt.Sprintf(`{"baseUrl":"http://%s/genomic-order-management-service","tokenUrl":"http://%s/oauth2/token","clientId":%q,"privateKeyFile":%q,"keyId":%q,"allowInsecure":true}`,
				addr, addr, clientID, e.keyFile, kid))
		},
		Delivery: func(n int) *gateway.Delivery { return delivery(t, fmt.Sprintf("NWGLH-2026-000101~v1~goms-%d", n)) },
	})
}

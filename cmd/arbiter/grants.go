package main

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/arbiterhq/arbiter/adapters/httpapi"
	"github.com/arbiterhq/arbiter/attribution"
	"github.com/arbiterhq/arbiter/decisionid"
)

// longDuration is a flag of a duration that also takes days: 7d, 36h, 90m.
type longDuration time.Duration

func (d *longDuration) String() string {
	v := time.Duration(*d)
	if v > 0 && v%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(v/(24*time.Hour)), 10) + "d"
	}
	return v.String()
}

func (d *longDuration) Set(s string) error {
	t := strings.TrimSpace(s)
	if n, ok := strings.CutSuffix(t, "d"); ok {
		days, err := strconv.ParseFloat(n, 64)
		if err != nil || days <= 0 || days > 3650 {
			return fmt.Errorf("%q is not a number of days: write 7d, 36h or 90m", s)
		}
		*d = longDuration(days * float64(24*time.Hour))
		return nil
	}
	v, err := time.ParseDuration(t)
	if err != nil || v <= 0 {
		return fmt.Errorf("%q is not a duration: write 7d, 36h or 90m", s)
	}
	*d = longDuration(v)
	return nil
}

// grantsConfig is serve's configuration of decision ids, outcomes,
// Idempotency-Keys and the ledger's replication.
type grantsConfig struct {
	decisionKey       string
	attributionWindow longDuration
	idempotencyTTL    time.Duration
	ledgerReplicas    int
}

// checkerOf returns the checker of outcomes: the decision key's signer
// (the first key signs, all verify) within the attribution window. Without
// a key, a random one of this process: ids of other replicas and of
// earlier runs are then unknown, which embedded says, and serve warns of.
func (g *grantsConfig) checkerOf(embedded bool, log *slog.Logger) (*attribution.Checker, error) {
	var signer *decisionid.Signer
	if g.decisionKey == "" {
		s, err := httpapi.RandomSigner()
		if err != nil {
			return nil, err
		}
		signer = s
		if embedded {
			log.Info("decision ids are signed with a random key of this process: outcomes of decisions made before a restart are refused as unknown")
		} else {
			log.Warn("no --decision-key (ARBITER_DECISION_KEY): decision ids are signed with a random key of this process, " +
				"so outcomes of decisions made by other replicas or before a restart are refused as unknown_decision; " +
				"give every replica the same key (openssl rand -hex 32)")
		}
	} else {
		keys, err := decisionid.ParseKeys(g.decisionKey)
		if err != nil {
			return nil, fmt.Errorf("--decision-key: %w", err)
		}
		if signer, err = decisionid.NewSigner(keys...); err != nil {
			return nil, fmt.Errorf("--decision-key: %w", err)
		}
	}
	return attribution.New(signer, time.Duration(g.attributionWindow)), nil
}

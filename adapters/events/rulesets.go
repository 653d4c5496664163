package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/arbiterhq/arbiter/rules"
)

// RulesetsBucket is the JetStream object store that keeps every ruleset
// Arbiter serves, by version, for the default prefix: "ARBITER_RULESETS".
// Another prefix has its own, StreamName(prefix) + "_RULESETS".
const RulesetsBucket = "ARBITER_RULESETS"

// RulesetsBucketName is the object store of the rulesets served under a
// subject prefix ("arbiter": RulesetsBucket).
func RulesetsBucketName(prefix string) string {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return StreamName(prefix) + "_RULESETS"
}

// ErrRulesetNotFound is returned by FetchRuleset for a version the store
// does not hold.
var ErrRulesetNotFound = errors.New("ruleset not in the object store")

// EncodeRuleset is the object a ruleset is kept as: one JSON object of the
// rule files' paths (slash-separated, relative to the rules directory) to
// their contents, keys sorted. A file that is not UTF-8 cannot be kept
// exactly in JSON and is an error.
func EncodeRuleset(files []rules.File) ([]byte, error) {
	m := make(map[string]string, len(files))
	for _, f := range files {
		if !utf8.Valid(f.Data) {
			return nil, fmt.Errorf("rule file %s is not UTF-8: it cannot be kept", f.Path)
		}
		m[f.Path] = string(f.Data)
	}
	return json.Marshal(m)
}

// DecodeRuleset reads an object EncodeRuleset wrote back into files, in
// path order: what rules.Compile takes.
func DecodeRuleset(data []byte) ([]rules.File, error) {
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("a ruleset object is a JSON object of file paths to contents: %w", err)
	}
	files := make([]rules.File, 0, len(m))
	for p, d := range m {
		files = append(files, rules.File{Path: p, Data: []byte(d)})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

// rulesetsStore binds the object store of bucket, creating it when it is
// missing (an existing one is left as an operator set it). Each request
// is asked again when it goes unanswered (untilAnswered): creating it
// again is harmless, the same configuration or "already exists".
func rulesetsStore(ctx context.Context, js jetstream.JetStream, bucket string, create bool) (jetstream.ObjectStore, error) {
	bind := func(ctx context.Context) (jetstream.ObjectStore, error) { return js.ObjectStore(ctx, bucket) }
	obs, err := untilAnswered(ctx, bind)
	if err == nil || !create || !errors.Is(err, jetstream.ErrBucketNotFound) {
		return obs, err
	}
	obs, err = untilAnswered(ctx, func(ctx context.Context) (jetstream.ObjectStore, error) {
		return js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:      bucket,
			Description: "Arbiter: every ruleset served, by version (a JSON object of rule file paths to contents)",
			Storage:     jetstream.FileStorage,
		})
	})
	if errors.Is(err, jetstream.ErrBucketExists) || errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return untilAnswered(ctx, bind)
	}
	// Another replica's create of the same store, still under way, can be
	// answered "subjects overlap" (nats-server 2.9.10, about one start in
	// five hundred): the store is there once that create is done.
	if isSubjectOverlap(err) {
		if obs, berr := untilAnswered(ctx, bind); berr == nil {
			return obs, nil
		}
	}
	return obs, err
}

// StoreRuleset keeps the rule files of version in the object store bucket
// (created when missing), unless it holds that version already: every
// replica may call it for the same version, and only the first writes.
// stored says whether this call wrote it.
func StoreRuleset(ctx context.Context, js jetstream.JetStream, bucket, version string, files []rules.File) (stored bool, err error) {
	if version == "" || len(files) == 0 {
		return false, errors.New("a ruleset to keep needs its version and its files")
	}
	obs, err := rulesetsStore(ctx, js, bucket, true)
	if err != nil {
		return false, fmt.Errorf("object store %s: %w", bucket, err)
	}
	// A read right after the store is created can go unanswered: on
	// nats-server 2.9.10, with four replicas creating it at once, one
	// GetInfo in about a hundred waited out its caller's whole deadline
	// while the next, on the same handle, was answered at once.
	if _, err := untilAnswered(ctx, func(ctx context.Context) (*jetstream.ObjectInfo, error) { return obs.GetInfo(ctx, version) }); err == nil {
		return false, nil
	} else if !errors.Is(err, jetstream.ErrObjectNotFound) {
		return false, fmt.Errorf("object store %s: %s: %w", bucket, version, err)
	}
	data, err := EncodeRuleset(files)
	if err != nil {
		return false, err
	}
	meta := jetstream.ObjectMeta{Name: version, Description: "ruleset " + version + ", " + strconv.Itoa(len(files)) + " files"}
	if _, err := obs.Put(ctx, meta, bytes.NewReader(data)); err != nil {
		return false, fmt.Errorf("object store %s: put %s: %w", bucket, version, err)
	}
	return true, nil
}

// FetchRuleset returns the rule files of version kept in the object store
// of the prefix ("" for "arbiter") on the NATS server at url, in path
// order (rules.Compile of them gives that version); ErrRulesetNotFound
// when the store does not hold it. It is how a replay gets the rules that
// made a recorded decision (the event's "ruleset").
func FetchRuleset(ctx context.Context, url, prefix, version string) ([]rules.File, error) {
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second), nats.Name("arbiter rulesets"))
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	return FetchRulesetJS(ctx, js, RulesetsBucketName(prefix), version)
}

// FetchRulesetJS is FetchRuleset on a JetStream context and a bucket.
func FetchRulesetJS(ctx context.Context, js jetstream.JetStream, bucket, version string) ([]rules.File, error) {
	obs, err := rulesetsStore(ctx, js, bucket, false)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("ruleset %s: no object store %s (Arbiter keeps the rulesets it serves there when it publishes to this server): %w", version, bucket, ErrRulesetNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", bucket, err)
	}
	data, err := untilAnswered(ctx, func(ctx context.Context) ([]byte, error) { return obs.GetBytes(ctx, version) })
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("ruleset %s in %s: %w", version, bucket, ErrRulesetNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("object store %s: get %s: %w", bucket, version, err)
	}
	return DecodeRuleset(data)
}

// rulesetKeeper stores the rulesets a Publisher is given, in the
// background, retrying while NATS or JetStream is unavailable.
type rulesetKeeper struct {
	mu      sync.Mutex
	pending map[string][]rules.File
	order   []string
	wake    chan struct{}
	once    sync.Once
	kept    map[string]bool
	// failed counts the attempts that failed (read by tests).
	failed atomic.Int64
}

// rulesetWarnEvery bounds how often a ruleset that cannot be kept is
// logged: it is tried again every ReconnectWait while NATS is down, and
// each attempt logged was a warning a second for the whole outage.
const rulesetWarnEvery = time.Minute

// KeepRuleset keeps the rule files of version in the prefix's object store
// (RulesetsBucketName: ARBITER_RULESETS), in the background: it returns at
// once, and a version that cannot be stored now (NATS down) is tried again
// until the publisher closes. A version kept once by this process, or
// already in the store (another replica's), is not written again. Without
// JetStream nothing is kept.
func (p *Publisher) KeepRuleset(version string, files []rules.File) {
	if version == "" || len(files) == 0 || p.closed.Load() {
		return
	}
	k := &p.rulesets
	k.mu.Lock()
	if k.pending == nil {
		k.pending, k.kept, k.wake = map[string][]rules.File{}, map[string]bool{}, make(chan struct{}, 1)
	}
	if _, ok := k.pending[version]; !ok && !k.kept[version] {
		k.pending[version] = files
		k.order = append(k.order, version)
	}
	k.mu.Unlock()
	k.once.Do(func() { go p.keepRulesets() })
	select {
	case k.wake <- struct{}{}:
	default:
	}
}

// RulesetsPending is the number of rulesets waiting to be kept.
func (p *Publisher) RulesetsPending() int {
	p.rulesets.mu.Lock()
	defer p.rulesets.mu.Unlock()
	return len(p.rulesets.order)
}

func (p *Publisher) keepRulesets() {
	k := &p.rulesets
	bucket := RulesetsBucketName(p.opts.Prefix)
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	var warned time.Time // when a failure was last logged
	for {
		select {
		case <-k.wake:
		case <-retry.C:
		case <-p.stop:
			return
		}
		for {
			k.mu.Lock()
			if len(k.order) == 0 {
				k.mu.Unlock()
				break
			}
			version := k.order[0]
			files := k.pending[version]
			k.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			stored, err := StoreRuleset(ctx, p.js, bucket, version, files)
			cancel()
			if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
				p.log.Warn("events: the NATS server has no JetStream; the rulesets served are not kept", "bucket", bucket)
				k.mu.Lock()
				k.order, k.pending = nil, map[string][]rules.File{}
				k.mu.Unlock()
				break
			}
			if err != nil {
				n := k.failed.Add(1)
				if now := time.Now(); warned.IsZero() || now.Sub(warned) >= rulesetWarnEvery {
					warned = now
					p.log.Warn("events: cannot keep the ruleset in the object store yet; retrying (logged at most once a minute)",
						"version", version, "bucket", bucket, "err", err, "attempts_failed", n)
				}
				retry.Reset(p.opts.ReconnectWait)
				break
			}
			if stored {
				p.log.Info("events: ruleset kept in the object store", "version", version, "bucket", bucket, "files", len(files))
			}
			k.mu.Lock()
			delete(k.pending, version)
			k.kept[version] = true
			k.order = k.order[1:]
			k.mu.Unlock()
		}
	}
}

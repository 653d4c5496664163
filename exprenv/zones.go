package exprenv

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Zones loads IANA time zones by name.
type Zones interface {
	Load(name string) (*time.Location, error)
}

// SystemZones loads zones from the system's database, as
// time.LoadLocation finds it.
func SystemZones() Zones { return systemZones{} }

type systemZones struct{}

func (systemZones) Load(name string) (*time.Location, error) { return time.LoadLocation(name) }

// zoneTable caches time zones named at run time (a constant name is
// resolved at load). Reads are lock-free (sync.Map's read path); it holds
// at most zoneCacheMax entries so that arbitrary profile values cannot
// grow it.
type zoneTable struct {
	src Zones
	m   sync.Map // string -> zoneEntry
	n   atomic.Int32
}

type zoneEntry struct {
	loc *time.Location
	err error
}

const zoneCacheMax = 512

func newZoneTable(src Zones) *zoneTable { return &zoneTable{src: src} }

func (c *zoneTable) load(name string) (*time.Location, error) {
	if v, ok := c.m.Load(name); ok {
		e := v.(zoneEntry)
		return e.loc, e.err
	}
	loc, err := c.src.Load(name)
	if c.n.Load() < zoneCacheMax {
		if _, loaded := c.m.LoadOrStore(name, zoneEntry{loc, err}); !loaded {
			c.n.Add(1)
		}
	}
	return loc, err
}

func (c *zoneTable) location(p any) (*time.Location, error) {
	switch v := p.(type) {
	case *time.Location:
		return v, nil
	case string:
		return c.load(v)
	default:
		return nil, fmt.Errorf("time zone must be a string, got %T", p)
	}
}

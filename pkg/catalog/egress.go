package catalog

import "strings"

// TransferClass is how far data moves between the region it is stored in
// and the region that reads it: what Cloud Storage's price for moving it
// depends on.
type TransferClass string

const (
	SameRegion       TransferClass = "same region"
	SameContinent    TransferClass = "same continent"
	Intercontinental TransferClass = "intercontinental"
)

// TransferClasses lists the classes nearest first.
var TransferClasses = []TransferClass{SameRegion, SameContinent, Intercontinental}

// Transfer is what moving data from one region to another costs.
type Transfer struct {
	Class TransferClass `json:"class"`
	// USDPerGiB is the price of moving one GiB, in US dollars.
	USDPerGiB float64 `json:"usdPerGiB"`
}

// continentOf is the continent of a region, from its name's prefix, as
// Google's network pricing groups regions.
var continentOf = []struct{ prefix, continent string }{
	{"us-", "North America"},
	{"northamerica-", "North America"},
	{"southamerica-", "South America"},
	{"europe-", "Europe"},
	{"asia-", "Asia"},
	{"australia-", "Oceania"},
	{"me-", "Middle East"},
	{"africa-", "Africa"},
}

// Continent returns the continent of a catalogued region, e.g. "Europe"
// for europe-west4.
func Continent(region string) (string, bool) {
	if _, ok := regions.byName[region]; !ok {
		return "", false
	}
	for _, c := range continentOf {
		if strings.HasPrefix(region, c.prefix) {
			return c.continent, true
		}
	}
	return "", false
}

// ClassBetween is the transfer class of moving data between two catalogued
// regions; ok is false when either is unknown.
func ClassBetween(from, to string) (TransferClass, bool) {
	a, okA := Continent(from)
	b, okB := Continent(to)
	switch {
	case !okA || !okB:
		return "", false
	case from == to:
		return SameRegion, true
	case a == b:
		return SameContinent, true
	default:
		return Intercontinental, true
	}
}

// Transfer is what moving data from region from to region to costs by p's
// egress prices; ok is false when either region is unknown.
func (p *Prices) Transfer(from, to string) (Transfer, bool) {
	class, ok := ClassBetween(from, to)
	if !ok {
		return Transfer{}, false
	}
	return Transfer{Class: class, USDPerGiB: p.egress[class]}, true
}

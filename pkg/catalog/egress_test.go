package catalog

import "testing"

func TestTransfer(t *testing.T) {
	tests := []struct {
		from, to string
		want     Transfer
		wantOK   bool
	}{
		{"europe-west4", "europe-west4", Transfer{SameRegion, 0}, true},
		{"europe-west4", "europe-west1", Transfer{SameContinent, 0.02}, true},
		{"us-central1", "northamerica-northeast1", Transfer{SameContinent, 0.02}, true},
		{"us-central1", "europe-west4", Transfer{Intercontinental, 0.08}, true},
		{"asia-east1", "australia-southeast1", Transfer{Intercontinental, 0.08}, true},
		{"southamerica-east1", "us-east1", Transfer{Intercontinental, 0.08}, true},
		{"me-west1", "me-central1", Transfer{SameContinent, 0.02}, true},
		{"us-west9", "us-west1", Transfer{}, false},
		{"us-west1", "", Transfer{}, false},
	}
	p := BuiltinPrices()
	for _, tt := range tests {
		got, ok := p.Transfer(tt.from, tt.to)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Transfer(%q, %q) = %+v, %v; want %+v, %v", tt.from, tt.to, got, ok, tt.want, tt.wantOK)
		}
	}
}

// Every catalogued region must have a continent, or its transfers would
// silently have no class.
func TestContinentOfEveryRegion(t *testing.T) {
	for _, r := range RegionNames() {
		if _, ok := Continent(r); !ok {
			t.Errorf("region %s has no continent", r)
		}
	}
}

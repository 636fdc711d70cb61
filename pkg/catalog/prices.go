package catalog

// Prices is a dated price list: the built-in one (BuiltinPrices) or one a
// user supplies with --price-catalog. Prices change and the catalogue is a
// snapshot, so every figure a plan shows comes with the list's date and
// source.
type Prices struct {
	// Date is when the figures were read (YYYY-MM-DD); Source says where
	// from.
	Date, Source string
	egress       map[TransferClass]float64
}

// BuiltinPrices is the price list compiled into the plugin.
func BuiltinPrices() *Prices {
	return &Prices{
		Date:   builtinPricesDate,
		Source: builtinPricesSource,
		egress: builtinEgress,
	}
}

const (
	builtinPricesDate   = "2026-12-07"
	builtinPricesSource = "Google Cloud pricing pages: cloud.google.com/storage/pricing"
)

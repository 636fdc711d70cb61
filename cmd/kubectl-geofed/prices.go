package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
)

// priceFlags is --price-catalog, which plan, apply and render share: a
// price list over the built-in one, for divideBy: cost and the dollars the
// plan shows.
type priceFlags struct {
	PriceCatalog string
	// Prices are the built-in list with the file over it, once loaded.
	Prices *catalog.Prices
}

func (f *priceFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.PriceCatalog, "price-catalog", "", "A price list over the built-in one (prices change): lines of 'machine TYPE REGION ONDEMAND SPOT', 'accelerator TYPE REGION ONDEMAND SPOT' and 'egress CLASS USD_PER_GIB', with a 'date YYYY-MM-DD' line; its entries replace the built-in ones")
	_ = cmd.MarkFlagFilename("price-catalog")
}

// load reads the file, reporting every bad line as file:line.
func (f *priceFlags) load() error {
	f.Prices = catalog.BuiltinPrices()
	if f.PriceCatalog == "" {
		return nil
	}
	data, err := os.ReadFile(f.PriceCatalog)
	if err != nil {
		return fmt.Errorf("reading --price-catalog: %w", err)
	}
	f.Prices, err = f.Prices.Overlay(f.PriceCatalog, data)
	return err
}

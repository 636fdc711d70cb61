// Package gcsemu is the lab's Cloud Storage: fake-gcs-server's JSON API on
// loopback, reached by Google's own Go client through
// STORAGE_EMULATOR_HOST, with what fake-gcs-server does not keep — each
// bucket's location — kept here. fake-gcs-server reports one location for
// every bucket; placement reads a bucket's location to put replicas near
// it, so buckets created in different locations must say so.
package gcsemu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/option"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
)

// EmulatorHostEnv is the variable Google's Cloud Storage clients read to
// talk to an emulator instead of storage.googleapis.com.
const EmulatorHostEnv = "STORAGE_EMULATOR_HOST"

// Options configure Start.
type Options struct {
	// Addr is where to listen; default 127.0.0.1:0 (a free port).
	Addr string
}

// Server is a running emulator.
type Server struct {
	fake *fakestorage.Server
	http *http.Server
	// Host is host:port, the value of STORAGE_EMULATOR_HOST.
	Host string

	mu        sync.Mutex
	locations map[string]bucketLocation // by bucket name
}

// bucketLocation is the location metadata a bucket was created with, as
// Cloud Storage reports it.
type bucketLocation struct {
	Location      string
	LocationType  string
	DataLocations []string
}

// Start serves the emulator until ctx ends (or Stop).
func Start(ctx context.Context, opts Options) (*Server, error) {
	fake, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true, Scheme: "http", BucketsLocation: "US-CENTRAL1"})
	if err != nil {
		return nil, fmt.Errorf("starting the Cloud Storage emulator: %w", err)
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fake.Stop()
		return nil, fmt.Errorf("starting the Cloud Storage emulator: %w", err)
	}
	s := &Server{fake: fake, Host: ln.Addr().String(), locations: map[string]bucketLocation{}}
	s.http = &http.Server{Handler: s.handler(fake.HTTPHandler()), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.http.Serve(ln) }()
	go func() {
		<-ctx.Done()
		s.Stop()
	}()
	return s, nil
}

// Stop stops serving.
func (s *Server) Stop() {
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.http.Shutdown(shutdown)
	s.fake.Stop()
}

const bucketsPath = "/storage/v1/b"

// handler keeps each bucket's location: it reads it from the create
// request and writes it into every bucket the emulator returns.
func (s *Server) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, isBucket := bucketName(r.URL.Path)
		switch {
		case r.Method == http.MethodPost && strings.TrimSuffix(r.URL.Path, "/") == bucketsPath:
			s.create(w, r, next)
		case isBucket && r.Method == http.MethodGet:
			s.get(w, r, next, name)
		case isBucket && r.Method == http.MethodDelete:
			rec := record(next, r)
			if rec.Code/100 == 2 {
				s.mu.Lock()
				delete(s.locations, name)
				s.mu.Unlock()
			}
			copyResponse(w, rec, rec.Body.Bytes())
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// bucketName is NAME of /storage/v1/b/NAME.
func bucketName(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, bucketsPath+"/")
	if !ok || rest == "" || strings.Contains(rest, "/") {
		return "", false
	}
	return rest, true
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, next http.Handler) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var req struct {
		Name                  string `json:"name"`
		Location              string `json:"location"`
		CustomPlacementConfig *struct {
			DataLocations []string `json:"dataLocations"`
		} `json:"customPlacementConfig"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	loc, err := locationOf(req.Location, req.CustomPlacementConfig)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	rec := record(next, r)
	if rec.Code/100 != 2 {
		copyResponse(w, rec, rec.Body.Bytes())
		return
	}
	s.mu.Lock()
	s.locations[req.Name] = loc
	s.mu.Unlock()
	copyResponse(w, rec, patch(rec.Body.Bytes(), loc))
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, next http.Handler, name string) {
	rec := record(next, r)
	s.mu.Lock()
	loc, ok := s.locations[name]
	s.mu.Unlock()
	if rec.Code/100 != 2 || !ok {
		copyResponse(w, rec, rec.Body.Bytes())
		return
	}
	copyResponse(w, rec, patch(rec.Body.Bytes(), loc))
}

// locationOf checks a requested location as Cloud Storage does, and says
// how Cloud Storage would report it. No location means US, as in Cloud
// Storage.
func locationOf(location string, custom *struct {
	DataLocations []string `json:"dataLocations"`
}) (bucketLocation, error) {
	if location == "" {
		location = "US"
	}
	loc := bucketLocation{Location: strings.ToUpper(location)}
	if custom != nil && len(custom.DataLocations) > 0 {
		if len(custom.DataLocations) != 2 {
			return loc, fmt.Errorf("a configurable dual-region names two regions, not %d", len(custom.DataLocations))
		}
		for _, r := range custom.DataLocations {
			if _, kind, ok := catalog.StorageLocation(r); !ok || kind != catalog.StorageRegion {
				return loc, fmt.Errorf("the specified location constraint is not valid: %q is not a region", r)
			}
			loc.DataLocations = append(loc.DataLocations, strings.ToUpper(r))
		}
		loc.LocationType = string(catalog.StorageDualRegion)
		return loc, nil
	}
	_, kind, ok := catalog.StorageLocation(location)
	if !ok {
		return loc, fmt.Errorf("the specified location constraint is not valid: %q", location)
	}
	loc.LocationType = string(kind)
	return loc, nil
}

// patch writes loc into a bucket resource.
func patch(body []byte, loc bucketLocation) []byte {
	var bucket map[string]any
	if err := json.Unmarshal(body, &bucket); err != nil {
		return body
	}
	bucket["location"] = loc.Location
	bucket["locationType"] = loc.LocationType
	if len(loc.DataLocations) > 0 {
		bucket["customPlacementConfig"] = map[string]any{"dataLocations": loc.DataLocations}
	}
	out, err := json.Marshal(bucket)
	if err != nil {
		return body
	}
	return out
}

// record runs next without compressing its answer, so it can be read.
func record(next http.Handler, r *http.Request) *httptest.ResponseRecorder {
	r.Header.Del("Accept-Encoding")
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	return rec
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder, body []byte) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

// Client is a Cloud Storage client of the emulator at host, as
// STORAGE_EMULATOR_HOST would make one.
func Client(ctx context.Context, host string) (*storage.Client, error) {
	return storage.NewClient(ctx, option.WithEndpoint("http://"+host+"/storage/v1/"), option.WithoutAuthentication())
}

// CreateBucket creates a bucket in location (a region, a dual-region such
// as EUR4, or US, EU, ASIA) on the emulator at host, through Google's
// client as a user would.
func CreateBucket(ctx context.Context, host, name, location string) error {
	c, err := Client(ctx, host)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Bucket(name).Create(ctx, "lab", &storage.BucketAttrs{Location: location}); err != nil {
		return fmt.Errorf("creating bucket %s in %s: %w", name, location, err)
	}
	return nil
}

// DeleteBucket deletes an empty bucket on the emulator at host.
func DeleteBucket(ctx context.Context, host, name string) error {
	c, err := Client(ctx, host)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Bucket(name).Delete(ctx); err != nil {
		if errors.Is(err, storage.ErrBucketNotExist) {
			return fmt.Errorf("deleting bucket %s: no such bucket", name)
		}
		return fmt.Errorf("deleting bucket %s: %w", name, err)
	}
	return nil
}

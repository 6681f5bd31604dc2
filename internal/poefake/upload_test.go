package poefake

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
)

// multipartUpload builds FP's byte upload; partType "" uses CreateFormFile
// (application/octet-stream), as a Go client typically would.
func multipartUpload(t *testing.T, endpoint, auth, filename, partType string, data []byte) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	var part interface{ Write([]byte) (int, error) }
	var err error
	if partType == "" {
		part, err = mw.CreateFormFile("file", filename)
	} else {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="`+filename+`"`)
		h.Set("Content-Type", partType)
		part, err = mw.CreatePart(h)
	}
	if err != nil {
		t.Fatal(err)
	}
	_, _ = part.Write(data)
	_ = mw.Close()
	req := must(http.NewRequest(http.MethodPost, endpoint, &buf))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return req
}

type uploadAnswer struct {
	AttachmentURL string `json:"attachment_url"`
	MIMEType      string `json:"mime_type"`
}

func decodeUpload(t *testing.T, body string) uploadAnswer {
	t.Helper()
	var a uploadAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("upload answer %q: %v", body, err)
	}
	return a
}

func TestUploadBytes(t *testing.T) {
	fake, ts := newFake(t, Options{})
	endpoint := ts.URL + "/poe_api/file_upload_3RD_PARTY_POST"
	data := []byte("\x89PNG fake image bytes")
	sum := sha256.Sum256(data)
	hexSum := hex.EncodeToString(sum[:])

	resp, body := doRead(t, multipartUpload(t, endpoint, "test-key", "image.png", "image/png", data))
	a := decodeUpload(t, body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" ||
		a.AttachmentURL != ts.URL+"/poe_api/files/"+hexSum+"/image.png" || a.MIMEType != "image/png" {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	ups := fake.Uploads()
	if len(ups) != 1 {
		t.Fatalf("uploads %+v", ups)
	}
	u := ups[0]
	if u.Token != "test-key" || u.Bearer || u.Filename != "image.png" || u.ContentType != "image/png" || u.Size != int64(len(data)) ||
		u.SHA256 != hexSum || u.DownloadURL != "" || u.URL != a.AttachmentURL || u.Status != 200 || u.Time.IsZero() {
		t.Errorf("record %+v", u)
	}
	// The file is served back.
	resp, got := doRead(t, must(http.NewRequest(http.MethodGet, a.AttachmentURL, nil)))
	if resp.StatusCode != 200 || got != string(data) || resp.Header.Get("Content-Type") != "image/png" {
		t.Errorf("GET file: %d %q", resp.StatusCode, got)
	}
	if resp, _ := doRead(t, must(http.NewRequest(http.MethodGet, ts.URL+"/poe_api/files/nope/x.png", nil))); resp.StatusCode != 404 {
		t.Errorf("missing file: %d", resp.StatusCode)
	}

	// Mime from the extension when the part says octet-stream, else octet-stream.
	for name, want := range map[string]string{"paper.pdf": "application/pdf", "notes.TXT": "text/plain", "blob.zzzq": "application/octet-stream"} {
		_, body := doRead(t, multipartUpload(t, endpoint, "test-key", name, "", []byte("x")))
		if a := decodeUpload(t, body); a.MIMEType != want || !strings.HasSuffix(a.AttachmentURL, "/"+name) {
			t.Errorf("%s: %+v", name, a)
		}
	}
	// "Bearer key" is accepted and noted.
	doRead(t, multipartUpload(t, endpoint, "Bearer test-key", "a.png", "", []byte("y")))
	ups = fake.Uploads()
	if last := ups[len(ups)-1]; !last.Bearer || last.Token != "test-key" || last.Status != 200 || last.ContentType != "application/octet-stream" {
		t.Errorf("bearer upload %+v", last)
	}
	if v := fake.Violations(); len(v) != 0 {
		t.Errorf("violations %v", v)
	}
	fake.Reset()
	if len(fake.Uploads()) != 0 {
		t.Error("Reset kept uploads")
	}
	if resp, _ := doRead(t, must(http.NewRequest(http.MethodGet, a.AttachmentURL, nil))); resp.StatusCode != 404 {
		t.Errorf("file after Reset: %d", resp.StatusCode)
	}
}

func TestUploadURL(t *testing.T) {
	fake, ts := newFake(t, Options{BaseURL: "https://files.example/poe_api/"})
	form := url.Values{"download_url": {"https://example.com/cat.png"}, "download_filename": {"cat.png"}}
	req := must(http.NewRequest(http.MethodPost, ts.URL+"/poe_api/file_upload_3RD_PARTY_POST", strings.NewReader(form.Encode())))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "test-key")
	resp, body := doRead(t, req)
	sum := sha256.Sum256([]byte("https://example.com/cat.png"))
	a := decodeUpload(t, body)
	if resp.StatusCode != 200 || a.MIMEType != "image/png" ||
		a.AttachmentURL != "https://files.example/poe_api/files/"+hex.EncodeToString(sum[:])+"/cat.png" {
		t.Fatalf("URL upload: %d %s", resp.StatusCode, body)
	}
	u := fake.Uploads()[0]
	if u.DownloadURL != "https://example.com/cat.png" || u.Filename != "cat.png" || u.Size != 0 || u.SHA256 != "" {
		t.Errorf("record %+v", u)
	}
	// Without download_filename the name comes from the URL; GET redirects to the source.
	form = url.Values{"download_url": {"https://example.com/pics/dog.jpg?x=1"}}
	req = must(http.NewRequest(http.MethodPost, ts.URL+"/file_upload_3RD_PARTY_POST", strings.NewReader(form.Encode())))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "test-key")
	_, body = doRead(t, req)
	a = decodeUpload(t, body)
	if a.MIMEType != "image/jpeg" || !strings.HasSuffix(a.AttachmentURL, "/dog.jpg") {
		t.Errorf("derived name: %+v", a)
	}
	local := ts.URL + strings.TrimPrefix(a.AttachmentURL, "https://files.example/poe_api")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(local)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://example.com/pics/dog.jpg?x=1" {
		t.Errorf("GET URL file: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestUploadFailures(t *testing.T) {
	fake, ts := newFake(t, Options{})
	endpoint := ts.URL + "/poe_api/file_upload_3RD_PARTY_POST"
	fake.FailUploads(1)
	resp, body := doRead(t, multipartUpload(t, endpoint, "k", "a.png", "", []byte("1")))
	if resp.StatusCode != 500 || body != "internal error" {
		t.Errorf("injected failure: %d %q", resp.StatusCode, body)
	}
	if resp, _ := doRead(t, multipartUpload(t, endpoint, "k", "a.png", "", []byte("1"))); resp.StatusCode != 200 {
		t.Errorf("after failure: %d", resp.StatusCode)
	}
	ups := fake.Uploads()
	if len(ups) != 2 || ups[0].Status != 500 || ups[1].Status != 200 || ups[0].Filename != "a.png" {
		t.Errorf("records %+v", ups)
	}

	fake.SetToken("bad", TokenInvalid)
	for _, auth := range []string{"", "bad"} {
		resp, body := doRead(t, multipartUpload(t, endpoint, auth, "a.png", "", []byte("1")))
		if resp.StatusCode != 401 || body != invalidKeyBody {
			t.Errorf("auth %q: %d %s", auth, resp.StatusCode, body)
		}
	}
	// Malformed bodies are 400s and violations.
	req := must(http.NewRequest(http.MethodPost, endpoint, strings.NewReader("{}")))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "k")
	if resp, _ := doRead(t, req); resp.StatusCode != 400 {
		t.Errorf("json body: %d", resp.StatusCode)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("other", "x")
	_ = mw.Close()
	req = must(http.NewRequest(http.MethodPost, endpoint, &buf))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "k")
	if resp, _ := doRead(t, req); resp.StatusCode != 400 {
		t.Errorf("no file part: %d", resp.StatusCode)
	}
	if v := fake.Violations(); len(v) != 3 {
		t.Errorf("violations %v", v)
	}
}

func TestBalance(t *testing.T) {
	fake, ts := newFake(t, Options{})
	get := func(auth string) (int, string) {
		req := must(http.NewRequest(http.MethodGet, ts.URL+"/usage/current_balance", nil))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, body := doRead(t, req)
		return resp.StatusCode, body
	}
	if code, body := get("Bearer test-key"); code != 200 || body != `{"current_point_balance": 1000}` {
		t.Errorf("default: %d %s", code, body)
	}
	fake.SetBalance("test-key", 1500)
	if code, body := get("Bearer test-key"); code != 200 || body != `{"current_point_balance": 1500}` {
		t.Errorf("set: %d %s", code, body)
	}
	fake.SetToken("poor", TokenNoPoints)
	if _, body := get("Bearer poor"); body != `{"current_point_balance": 0}` {
		t.Errorf("no points: %s", body)
	}
	fake.SetToken("bad", TokenInvalid)
	for _, auth := range []string{"Bearer bad", "", "test-key"} {
		if code, _ := get(auth); code != 401 {
			t.Errorf("auth %q: %d", auth, code)
		}
	}
	if v := fake.Violations(); len(v) != 2 {
		t.Errorf("violations %v", v)
	}
	if n := fake.BalanceReads("test-key"); n != 2 {
		t.Errorf("%d balance reads of test-key, want 2", n)
	}
	if fake.Reset(); fake.BalanceReads("test-key") != 0 {
		t.Error("Reset kept the balance reads")
	}
}

func TestModels(t *testing.T) {
	fake, ts := newFake(t, Options{})
	fake.SetBot("Zeta", func(*Request) Script { return nil })
	type list struct {
		Object string `json:"object"`
		Data   []struct {
			ID          string `json:"id"`
			Object      string `json:"object"`
			Created     int64  `json:"created"`
			OwnedBy     string `json:"owned_by"`
			Description string `json:"description"`
		} `json:"data"`
	}
	get := func() list {
		resp, body := doRead(t, must(http.NewRequest(http.MethodGet, ts.URL+"/v1/models", nil)))
		var l list
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &l) != nil {
			t.Fatalf("models: %d %s", resp.StatusCode, body)
		}
		return l
	}
	l1, l2 := get(), get()
	var ids []string
	for i, m := range l1.Data {
		ids = append(ids, m.ID)
		if m.Object != "model" || m.OwnedBy != "poe" || m.Description == "" || m.Created < 1e12 || m.Created != l2.Data[i].Created {
			t.Errorf("model %+v", m)
		}
		if i > 0 && ids[i-1] >= m.ID {
			t.Errorf("not sorted: %v", ids)
		}
	}
	joined := strings.Join(ids, ",")
	if l1.Object != "list" || !strings.Contains(joined, "V1,V10") || !strings.HasSuffix(joined, "Zeta") || !strings.Contains(joined, "Echo") {
		t.Errorf("ids %v", ids)
	}
	fake.SetModels([]string{"b", "a"})
	if l := get(); len(l.Data) != 2 || l.Data[0].ID != "b" || l.Data[1].ID != "a" {
		t.Errorf("override %+v", l)
	}
	fake.SetModels(nil)
	if l := get(); len(l.Data) != len(l1.Data) {
		t.Errorf("after SetModels(nil): %d", len(l.Data))
	}
	if n := fake.ModelListHits(); n != 4 {
		t.Errorf("hits %d", n)
	}
	fake.Reset()
	if n := fake.ModelListHits(); n != 0 {
		t.Errorf("hits after Reset %d", n)
	}
}

package poefake

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

// Upload records one call of file_upload_3RD_PARTY_POST (vector V12).
type Upload struct {
	Token       string // key from Authorization
	Bearer      bool   // the client sent "Bearer <key>"; Poe's SDK sends the raw key
	Filename    string // multipart filename, download_filename, or derived from the URL
	ContentType string // Content-Type of the file part as sent ("" for URL uploads)
	MIMEType    string // mime_type answered
	Size        int64  // bytes received (0 for URL uploads)
	SHA256      string // hex digest of the bytes ("" for URL uploads)
	DownloadURL string // download_url for URL uploads
	URL         string // attachment_url answered
	Status      int    // HTTP status answered
	Time        time.Time
}

// storedFile is what GET .../files/<key>/<name> serves back.
type storedFile struct {
	data        []byte
	mimeType    string
	downloadURL string
}

const maxUpload = 64 << 20

// FailUploads makes the next n uploads answer 500 "internal error".
func (s *Server) FailUploads(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failUploads = n
}

// Uploads returns the upload records in arrival order.
func (s *Server) Uploads() []Upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Upload, len(s.uploads))
	copy(out, s.uploads)
	return out
}

// extTypes keeps common answers independent of the host's mime tables.
var extTypes = map[string]string{
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
	".webp": "image/webp", ".pdf": "application/pdf", ".txt": "text/plain", ".md": "text/markdown",
	".csv": "text/csv", ".json": "application/json", ".mp3": "audio/mpeg", ".wav": "audio/wav",
	".mp4": "video/mp4", ".html": "text/html",
}

// mimeFor picks the answered mime_type: the part's type when it says
// something (Go's multipart writer always sends application/octet-stream),
// else the filename extension, else application/octet-stream.
func mimeFor(partType, filename string) string {
	if mt, _, err := mime.ParseMediaType(partType); err == nil && mt != "application/octet-stream" {
		return mt
	}
	ext := strings.ToLower(path.Ext(filename))
	if t, ok := extTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		if mt, _, err := mime.ParseMediaType(t); err == nil {
			return mt
		}
	}
	return "application/octet-stream"
}

func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request, prefix string) {
	const where = "file_upload_3RD_PARTY_POST"
	up := Upload{Time: time.Now()}
	auth := r.Header.Get("Authorization")
	up.Token, up.Bearer = auth, false
	if t, ok := strings.CutPrefix(auth, "Bearer "); ok {
		up.Token, up.Bearer = t, true
	}
	if r.Method != http.MethodPost {
		s.violate("%s: method %s, want POST", where, r.Method)
		writeError(w, http.StatusMethodNotAllowed, "Method Not Allowed", typeInvalidReq, "")
		return
	}

	data, problem := readUpload(w, r, &up)
	up.URL = attachmentURL(s.opts.BaseURL, r, prefix, &up)

	// Decide under the lock, answer after it.
	s.mu.Lock()
	code, violation := http.StatusOK, ""
	switch {
	case up.Token == "":
		code, violation = http.StatusUnauthorized, "no Authorization header"
	case s.tokens[up.Token] == TokenInvalid:
		code = http.StatusUnauthorized
	case problem != "":
		code, violation = http.StatusBadRequest, problem
	case s.failUploads > 0:
		s.failUploads--
		code = http.StatusInternalServerError
	}
	if violation != "" {
		s.violateLocked("%s: %s", where, violation)
	}
	up.Status = code
	if code != http.StatusOK {
		up.URL = ""
	} else {
		s.files[fileKey(&up)] = storedFile{data: data, mimeType: up.MIMEType, downloadURL: up.DownloadURL}
	}
	s.uploads = append(s.uploads, up)
	s.mu.Unlock()

	switch code {
	case http.StatusOK:
		body, _ := json.Marshal(struct {
			AttachmentURL string `json:"attachment_url"`
			MIMEType      string `json:"mime_type"`
		}{up.URL, up.MIMEType})
		writeJSON(w, code, string(body))
	case http.StatusUnauthorized:
		writeInvalidKey(w)
	case http.StatusInternalServerError:
		writePlain(w, code, "internal error")
	default:
		writePlain(w, code, problem)
	}
}

func writePlain(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg) //nolint:gosec // text/plain, from the fake's own words
}

// fileKey names a stored file: the SHA-256 of its bytes, or of its URL.
func fileKey(up *Upload) string {
	if up.SHA256 != "" {
		return up.SHA256
	}
	sum := sha256.Sum256([]byte(up.DownloadURL))
	return hex.EncodeToString(sum[:])
}

// attachmentURL is where GET .../files/ serves the upload back.
func attachmentURL(base string, r *http.Request, prefix string, up *Upload) string {
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host + prefix
	}
	return strings.TrimSuffix(base, "/") + "/files/" + fileKey(up) + "/" + url.PathEscape(up.Filename)
}

// readUpload reads a multipart file part or a URL form into up. It returns
// the file bytes and, if the request is malformed, why.
func readUpload(w http.ResponseWriter, r *http.Request, up *Upload) ([]byte, string) {
	r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var data []byte
	switch mt {
	case "multipart/form-data":
		mr, err := r.MultipartReader()
		if err != nil {
			return nil, "bad multipart body: " + err.Error()
		}
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, "bad multipart body: " + err.Error()
			}
			switch part.FormName() {
			case "file":
				up.Filename = part.FileName()
				up.ContentType = part.Header.Get("Content-Type")
				if data, err = io.ReadAll(part); err != nil {
					return nil, "reading file part: " + err.Error()
				}
			case "download_url", "download_filename":
				// 3P clients send the URL form as multipart text parts.
				v, err := io.ReadAll(io.LimitReader(part, 64<<10))
				if err != nil {
					return nil, "reading form part: " + err.Error()
				}
				if part.FormName() == "download_url" {
					up.DownloadURL = string(v)
				} else {
					up.Filename = string(v)
				}
			}
		}
		if data == nil && up.DownloadURL == "" {
			return nil, "multipart body has no \"file\" part"
		}
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return nil, "bad form body: " + err.Error()
		}
		up.DownloadURL = r.PostForm.Get("download_url")
		up.Filename = r.PostForm.Get("download_filename")
		if up.DownloadURL == "" {
			return nil, "form body has no download_url"
		}
	default:
		return nil, "Content-Type is " + r.Header.Get("Content-Type") + ", want multipart/form-data or application/x-www-form-urlencoded"
	}

	if up.DownloadURL != "" && data == nil {
		if up.Filename == "" {
			if u, err := url.Parse(up.DownloadURL); err == nil {
				up.Filename = path.Base(u.Path)
			}
		}
	} else {
		sum := sha256.Sum256(data)
		up.SHA256 = hex.EncodeToString(sum[:])
		up.Size = int64(len(data))
	}
	up.Filename = path.Base(strings.ReplaceAll(up.Filename, "\\", "/"))
	if up.Filename == "" || up.Filename == "." || up.Filename == "/" {
		up.Filename = "file"
	}
	up.MIMEType = mimeFor(up.ContentType, up.Filename)
	return data, ""
}

// handleFile serves an uploaded file back; a URL upload redirects to its source.
func (s *Server) handleFile(w http.ResponseWriter, r *http.Request, rest string) {
	key, _, _ := strings.Cut(rest, "/")
	s.mu.Lock()
	f, ok := s.files[key]
	s.mu.Unlock()
	switch {
	case !ok:
		http.NotFound(w, r)
	case f.data == nil:
		http.Redirect(w, r, f.downloadURL, http.StatusFound)
	default:
		w.Header().Set("Content-Type", f.mimeType)
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(f.data)
	}
}

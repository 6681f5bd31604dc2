package poeclient

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"
)

// DefaultUploadURL is Poe's file upload endpoint (on quora.com, as in
// fastapi_poe).
const DefaultUploadURL = "https://www.quora.com/poe_api/file_upload_3RD_PARTY_POST"

// uploadRetryDelay is fastapi_poe's pause between its two upload tries.
var uploadRetryDelay = 500 * time.Millisecond

// uploadTimeout bounds one upload try, as fastapi_poe's 120 s does.
const uploadTimeout = 120 * time.Second

// UploadBytes uploads a file's bytes and returns the attachment to put in
// a message. A failure is retried once.
func (c *Client) UploadBytes(ctx context.Context, token, name, contentType string, data []byte) (Attachment, error) {
	return c.upload(ctx, token, func() (io.Reader, string, error) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		h := make(textproto.MIMEHeader)
		h.Set("Content-Disposition", `form-data; name="file"; filename="`+escapeQuotes(name)+`"`)
		h.Set("Content-Type", contentType)
		part, err := mw.CreatePart(h)
		if err != nil {
			return nil, "", err
		}
		if _, err := part.Write(data); err != nil {
			return nil, "", err
		}
		if err := mw.Close(); err != nil {
			return nil, "", err
		}
		return &body, mw.FormDataContentType(), nil
	}, name)
}

// UploadFromURL asks Poe to fetch a file itself; this server never
// downloads client-supplied URLs.
func (c *Client) UploadFromURL(ctx context.Context, token, fileURL, name string) (Attachment, error) {
	return c.upload(ctx, token, func() (io.Reader, string, error) {
		form := url.Values{"download_url": {fileURL}}
		if name != "" {
			form.Set("download_filename", name)
		}
		return strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", nil
	}, name)
}

func (c *Client) upload(ctx context.Context, token string, body func() (io.Reader, string, error), name string) (Attachment, error) {
	var last *Error
	for try := 0; try < 2; try++ {
		if try > 0 {
			select {
			case <-ctx.Done():
				return Attachment{}, AsError(ctx.Err())
			case <-time.After(uploadRetryDelay):
			}
		}
		a, err := c.uploadOnce(ctx, token, body, name)
		if err == nil {
			return a, nil
		}
		last = err
		if ctx.Err() != nil || !err.Retryable {
			break
		}
	}
	return Attachment{}, last
}

func (c *Client) uploadOnce(ctx context.Context, token string, body func() (io.Reader, string, error), name string) (Attachment, *Error) {
	r, ct, err := body()
	if err != nil {
		return Attachment{}, &Error{Kind: KindUpload, Message: "cannot build upload: " + err.Error()}
	}
	uploadURL := c.UploadURL
	if uploadURL == "" {
		uploadURL = DefaultUploadURL
	}
	ctx, cancel := context.WithTimeout(ctx, uploadTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uploadURL, r)
	if err != nil {
		return Attachment{}, &Error{Kind: KindUpload, Message: "bad upload URL"}
	}
	req.Header.Set("Content-Type", ct)
	// fastapi_poe sends the raw key here, without "Bearer".
	req.Header.Set("Authorization", token)
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		e := transportError(ctx, err, token)
		e.Kind = KindUpload
		return Attachment{}, e
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		e := errorFromResponse(resp.StatusCode, resp.Header, raw, token)
		// Any failure may pass on a second try, except a redirect: it
		// would only come again.
		return Attachment{}, &Error{Kind: KindUpload, Status: resp.StatusCode, Message: "upload failed: " + e.Message,
			Retryable: !isRedirect(resp.StatusCode), RetryAfter: e.RetryAfter, Detail: e.Detail}
	}
	var out struct {
		AttachmentURL string `json:"attachment_url"`
		MimeType      string `json:"mime_type"`
	}
	if json.Unmarshal(raw, &out) != nil || out.AttachmentURL == "" || out.MimeType == "" {
		return Attachment{}, &Error{Kind: KindUpload, Status: resp.StatusCode,
			Message: "unexpected upload response", Retryable: true, Detail: detail(raw, token)}
	}
	if name == "" {
		name = "file"
	}
	return Attachment{URL: out.AttachmentURL, ContentType: out.MimeType, Name: name}, nil
}

func escapeQuotes(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", "", "\n", "").Replace(s)
}

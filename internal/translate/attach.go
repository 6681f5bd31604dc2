package translate

import (
	"encoding/base64"
	"mime"
	"net/url"
	"path"
	"strings"

	"github.com/poe-openai/caddy-poe-openai/internal/conv"
)

// attachment turns an image_url, file or input_audio part into an upload.
// Bytes are decoded here so that a bad part is a 400 before any token is
// used; http(s) URLs are left for Poe to fetch.
func attachment(p conv.Part, param string, maxBytes int64) (Upload, *conv.Error) {
	switch p.Type {
	case conv.PartImageURL:
		return imageURL(p.URL, param+".image_url.url", maxBytes)
	case conv.PartFile:
		return file(p, param+".file", maxBytes)
	case conv.PartInputAudio:
		format := strings.ToLower(p.Format)
		ct, ok := audioTypes[format]
		if !ok {
			return Upload{}, conv.InvalidRequest(param+".input_audio.format", "invalid_value",
				"Unsupported audio format %q: use wav or mp3.", p.Format)
		}
		data, err := decodeBase64(p.Audio, param+".input_audio.data", maxBytes)
		if err != nil {
			return Upload{}, err
		}
		return Upload{Param: param, Name: "audio." + format, ContentType: ct, Data: data}, nil
	}
	return Upload{}, conv.InvalidRequest(param+".type", "invalid_value", "Unsupported content part %q.", p.Type)
}

var audioTypes = map[string]string{"wav": "audio/wav", "mp3": "audio/mpeg"}

func imageURL(raw, param string, maxBytes int64) (Upload, *conv.Error) {
	if strings.HasPrefix(raw, "data:") {
		ct, data, err := decodeDataURL(raw, param, maxBytes)
		if err != nil {
			return Upload{}, err
		}
		if !strings.HasPrefix(ct, "image/") || !acceptedType(ct) {
			return Upload{}, conv.InvalidRequest(param, "invalid_image_format",
				"Unsupported image type %q: use PNG, JPEG, GIF, WebP, HEIC or BMP.", ct)
		}
		return Upload{Param: param, Name: "image" + extension(ct), ContentType: ct, Data: data}, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Upload{}, conv.InvalidRequest(param, "invalid_image_url",
			"Image URLs must be http(s) URLs or base64 data: URLs.")
	}
	name := path.Base(u.Path)
	if name == "." || name == "/" || name == "" {
		name = "image"
	}
	return Upload{Param: param, Name: name, URL: raw}, nil
}

func file(p conv.Part, param string, maxBytes int64) (Upload, *conv.Error) {
	if p.FileData == "" {
		return Upload{}, conv.InvalidRequest(param+".file_id", "unsupported_value",
			"Uploaded file ids are not supported here: send the file's bytes as file_data.")
	}
	name := p.Filename
	var ct string
	var data []byte
	var err *conv.Error
	if strings.HasPrefix(p.FileData, "data:") {
		ct, data, err = decodeDataURL(p.FileData, param+".file_data", maxBytes)
	} else {
		data, err = decodeBase64(p.FileData, param+".file_data", maxBytes)
	}
	if err != nil {
		return Upload{}, err
	}
	if ct == "" || ct == "application/octet-stream" {
		ct = typeByExtension(path.Ext(name))
	}
	if ct == "" {
		return Upload{}, conv.InvalidRequest(param+".filename", "invalid_value",
			"Cannot tell the file's type: give a filename with an extension (e.g. report.pdf) or a data: URL.")
	}
	if !acceptedType(ct) {
		return Upload{}, conv.InvalidRequest(param, "unsupported_file_type", "Poe does not accept files of type %q.", ct)
	}
	if name == "" {
		name = "file" + extension(ct)
	}
	return Upload{Param: param, Name: name, ContentType: ct, Data: data}, nil
}

// decodeDataURL reads data:<type>[;params];base64,<data>.
func decodeDataURL(raw, param string, maxBytes int64) (string, []byte, *conv.Error) {
	meta, payload, ok := strings.Cut(strings.TrimPrefix(raw, "data:"), ",")
	if !ok || !strings.HasSuffix(meta, ";base64") {
		return "", nil, conv.InvalidRequest(param, "invalid_data_url", "Expected a base64 data: URL (data:<type>;base64,<data>).")
	}
	ct, _, err := mime.ParseMediaType(strings.TrimSuffix(meta, ";base64"))
	if err != nil {
		return "", nil, conv.InvalidRequest(param, "invalid_data_url", "The data: URL has an invalid media type.")
	}
	data, derr := decodeBase64(payload, param, maxBytes)
	return ct, data, derr
}

func decodeBase64(s, param string, maxBytes int64) ([]byte, *conv.Error) {
	s = strings.TrimSpace(s)
	if maxBytes > 0 && int64(base64.StdEncoding.DecodedLen(len(s))) > maxBytes+2 {
		return nil, &conv.Error{Status: 400, Type: conv.TypeInvalidRequest, Param: param, Code: "file_too_large",
			Message: "The attachment is larger than this server's max_request_body."}
	}
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if !strings.HasSuffix(s, "=") && len(s)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	data, err := enc.DecodeString(s)
	if err != nil || len(data) == 0 {
		return nil, conv.InvalidRequest(param, "invalid_base64", "The attachment is not valid base64.")
	}
	return data, nil
}

// acceptedType lists what Poe's bots take as attachments: images,
// documents, text, audio and video. Executables and archives are refused
// here rather than after an upload.
func acceptedType(ct string) bool {
	switch {
	case strings.HasPrefix(ct, "text/"), strings.HasPrefix(ct, "audio/"):
		return true
	case strings.HasPrefix(ct, "image/"):
		switch ct {
		case "image/png", "image/jpeg", "image/jpg", "image/gif", "image/webp", "image/heic", "image/heif", "image/bmp":
			return true
		}
		return false
	case strings.HasPrefix(ct, "video/"):
		switch ct {
		case "video/mp4", "video/webm", "video/quicktime", "video/mpeg":
			return true
		}
		return false
	}
	switch ct {
	case "application/pdf", "application/json", "application/xml", "application/rtf",
		"application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
		"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		"application/vnd.openxmlformats-officedocument.presentationml.presentation",
		"application/epub+zip":
		return true
	}
	return false
}

var extensions = map[string]string{
	"image/png": ".png", "image/jpeg": ".jpg", "image/jpg": ".jpg", "image/gif": ".gif", "image/webp": ".webp",
	"image/heic": ".heic", "image/heif": ".heif", "image/bmp": ".bmp", "application/pdf": ".pdf",
	"text/plain": ".txt", "text/markdown": ".md", "text/csv": ".csv", "application/json": ".json",
	"application/epub+zip": ".epub",
	"audio/wav":            ".wav", "audio/mpeg": ".mp3",
}

func extension(ct string) string {
	if e, ok := extensions[ct]; ok {
		return e
	}
	if exts, _ := mime.ExtensionsByType(ct); len(exts) > 0 {
		return exts[0]
	}
	return ""
}

// typeByExtension uses a fixed table first, so that results do not depend
// on the machine's mime.types; source files count as plain text.
func typeByExtension(ext string) string {
	ext = strings.ToLower(ext)
	for ct, e := range extensions {
		if e == ext {
			return ct
		}
	}
	switch ext {
	case ".jpeg":
		return "image/jpeg"
	case ".docx":
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case ".xlsx":
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case ".pptx":
		return "application/vnd.openxmlformats-officedocument.presentationml.presentation"
	case ".doc":
		return "application/msword"
	case ".html", ".htm":
		return "text/html"
	case ".xml":
		return "application/xml"
	case ".go", ".py", ".js", ".ts", ".tsx", ".jsx", ".java", ".c", ".h", ".cpp", ".hpp", ".rs", ".rb",
		".php", ".sh", ".sql", ".yaml", ".yml", ".toml", ".ini", ".log", ".swift", ".kt", ".cs", ".css":
		return "text/plain"
	case ".mp4":
		return "video/mp4"
	case ".m4a":
		return "audio/mp4"
	case ".ogg":
		return "audio/ogg"
	}
	ct := mime.TypeByExtension(ext)
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return ct
}

package conv

import "encoding/json"

// Request is one validated conversation request, whichever front end parsed it. Fields Poe has no
// use for are dropped during parsing.
type Request struct {
	Model           string
	Messages        []Message
	Stream          bool
	IncludeUsage    bool // stream_options.include_usage
	Temperature     *float64
	Stop            []string
	LogitBias       map[string]float64
	MaxTokens       int // max_completion_tokens, else max_tokens; 0 = none
	Tools           []Tool
	ToolChoice      ToolChoice
	ResponseFormat  ResponseFormat
	ReasoningEffort string
}

// Roles a message may have.
const (
	RoleSystem    = "system"
	RoleDeveloper = "developer"
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleTool      = "tool"
	RoleFunction  = "function"
)

// Message is one conversation entry.
type Message struct {
	Role       string
	Content    []Part // nil when the content was null or absent
	Text       bool   // the content was a plain string (one text part)
	Name       string
	ToolCalls  []ToolCall // assistant only
	ToolCallID string     // tool only
	// Where the message stands in the front end's wire format, for error
	// messages: e.g. messages[2] or input[3]. "" = messages[<index>].
	Param string
	// The wire path of ToolCallID, e.g. input[3].call_id; "" = Param.tool_call_id.
	IDParam string
}

// Part types.
const (
	PartText       = "text"
	PartImageURL   = "image_url"
	PartFile       = "file"
	PartInputAudio = "input_audio"
	PartRefusal    = "refusal"
)

// Part is one content part. Exactly the fields of its Type are set.
type Part struct {
	Type     string
	Text     string // text and refusal
	URL      string // image_url: a data: or http(s): URL
	FileData string // file: base64 (or a data: URL), with Filename
	FileID   string // file: an uploaded file id (not supported by Poe)
	Filename string
	Audio    string // input_audio: base64
	Format   string // input_audio: wav, mp3
	Param    string // the part's wire path, e.g. input[1].content[0]; "" = <message>.content[<index>]
}

// ToolCall is a function call in an assistant message.
type ToolCall struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Name      string `json:"-"`
	Arguments string `json:"-"`
}

// Tool is a function the model may call.
type Tool struct {
	Name        string
	Description string
	Parameters  json.RawMessage // nil when absent
}

// ToolChoice modes.
const (
	ToolChoiceAuto     = "auto"
	ToolChoiceNone     = "none"
	ToolChoiceRequired = "required"
	ToolChoiceFunction = "function"
)

// ToolChoice is tool_choice: a mode, or a named function.
type ToolChoice struct {
	Mode string // "" when absent
	Name string // for ToolChoiceFunction
}

// ResponseFormat is response_format.
type ResponseFormat struct {
	Type       string          // "", text, json_object, json_schema
	SchemaName string          // json_schema.name
	Schema     json.RawMessage // json_schema.schema
}

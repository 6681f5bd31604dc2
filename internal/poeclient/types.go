// Package poeclient speaks Poe's bot-query protocol (api.poe.com/bot/<bot>):
// the request body, the SSE event stream, error classification, file
// upload and the balance endpoint. It knows nothing about Caddy or OpenAI.
package poeclient

// ProtocolVersion is what fastapi_poe, Poe's own client, sends today.
const ProtocolVersion = "1.2"

// QueryRequest is the body of a "query" request. Every field is serialised,
// nulls included, exactly as fastapi_poe does (vector V1), so that Poe sees
// the same shape from us as from its own SDK.
type QueryRequest struct {
	Version             string                 `json:"version"`
	Type                string                 `json:"type"`
	Query               []ProtocolMessage      `json:"query"`
	UserID              string                 `json:"user_id"`
	ConversationID      string                 `json:"conversation_id"`
	MessageID           string                 `json:"message_id"`
	Metadata            string                 `json:"metadata"`
	APIKey              string                 `json:"api_key"`
	AccessKey           string                 `json:"access_key"`
	Temperature         *float64               `json:"temperature"`
	SkipSystemPrompt    bool                   `json:"skip_system_prompt"`
	LogitBias           map[string]float64     `json:"logit_bias"`
	StopSequences       []string               `json:"stop_sequences"`
	LanguageCode        string                 `json:"language_code"`
	AdoptCurrentBotName *bool                  `json:"adopt_current_bot_name"`
	BotQueryID          string                 `json:"bot_query_id"`
	Users               []User                 `json:"users"`
	Tools               []ToolDefinition       `json:"tools"`
	ToolCalls           []ToolCallDefinition   `json:"tool_calls"`
	ToolResults         []ToolResultDefinition `json:"tool_results"`
	QueryCreationTime   *int64                 `json:"query_creation_time"`
	ExtraParams         map[string]any         `json:"extra_params"`
}

// NewQuery returns a query request with fastapi_poe's defaults.
func NewQuery(messages []ProtocolMessage) *QueryRequest {
	return &QueryRequest{
		Version:       ProtocolVersion,
		Type:          "query",
		Query:         messages,
		APIKey:        "<missing>",
		AccessKey:     "<missing>",
		LogitBias:     map[string]float64{},
		StopSequences: []string{},
		LanguageCode:  "en",
		Users:         []User{},
	}
}

// User is one participant of a multi-user chat.
type User struct {
	ID   string  `json:"id"`
	Name *string `json:"name"`
}

// Sender names who wrote a message.
type Sender struct {
	ID   *string `json:"id"`
	Name *string `json:"name"`
}

// Roles Poe accepts. There is no "assistant": Poe calls it "bot".
const (
	RoleSystem = "system"
	RoleUser   = "user"
	RoleBot    = "bot"
	RoleTool   = "tool"
)

// ProtocolMessage is one element of QueryRequest.Query.
type ProtocolMessage struct {
	Role              string           `json:"role"`
	MessageType       *string          `json:"message_type"`
	SenderID          *string          `json:"sender_id"`
	Sender            *Sender          `json:"sender"`
	Content           string           `json:"content"`
	Parameters        map[string]any   `json:"parameters"`
	ContentType       string           `json:"content_type"`
	Timestamp         int64            `json:"timestamp"`
	MessageID         string           `json:"message_id"`
	Feedback          []Feedback       `json:"feedback"`
	Attachments       []Attachment     `json:"attachments"`
	Metadata          *string          `json:"metadata"`
	ReferencedMessage *ProtocolMessage `json:"referenced_message"`
	Reactions         []Reaction       `json:"reactions"`
}

// NewMessage returns a message with fastapi_poe's defaults.
func NewMessage(role, content string) ProtocolMessage {
	return ProtocolMessage{
		Role:        role,
		Content:     content,
		Parameters:  map[string]any{},
		ContentType: "text/markdown",
		Feedback:    []Feedback{},
		Attachments: []Attachment{},
		Reactions:   []Reaction{},
	}
}

// Feedback is a like or dislike on a message.
type Feedback struct {
	Type   string  `json:"type"`
	Reason *string `json:"reason"`
}

// Reaction is a user's reaction on a message.
type Reaction struct {
	UserID   string `json:"user_id"`
	Reaction string `json:"reaction"`
}

// Attachment is a file attached to a message, by URL.
type Attachment struct {
	URL           string  `json:"url"`
	ContentType   string  `json:"content_type"`
	Name          string  `json:"name"`
	InlineRef     *string `json:"inline_ref"`
	ParsedContent *string `json:"parsed_content"`
}

// ToolDefinition is an OpenAI function tool as Poe takes it.
type ToolDefinition struct {
	Type     string             `json:"type"`
	Function FunctionDefinition `json:"function"`
}

// FunctionDefinition describes one function. Parameters is the JSON schema,
// kept raw so that it reaches Poe exactly as the client wrote it.
type FunctionDefinition struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Parameters  any    `json:"parameters"`
}

// ToolCallDefinition is a complete call the model asked for.
type ToolCallDefinition struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function FunctionCall `json:"function"`
}

// FunctionCall names a function and its JSON-encoded arguments.
type FunctionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// ToolResultDefinition carries a tool's result back to the bot.
type ToolResultDefinition struct {
	Role       string `json:"role"`
	Name       string `json:"name"`
	ToolCallID string `json:"tool_call_id"`
	Content    string `json:"content"`
}

// FileEvent is the payload of a "file" event: an attachment the bot made.
type FileEvent struct {
	URL         string `json:"url"`
	ContentType string `json:"content_type"`
	Name        string `json:"name"`
	InlineRef   string `json:"inline_ref"`
}

// ErrorEvent is the payload of an "error" event. AllowRetry is a pointer
// because a missing key means true.
type ErrorEvent struct {
	AllowRetry  *bool  `json:"allow_retry"`
	Text        string `json:"text"`
	ErrorType   string `json:"error_type"`
	RawResponse string `json:"raw_response"`
}

// Error types Poe sends in ErrorEvent.ErrorType.
const (
	ErrorTypeMessageTooLong = "user_message_too_long"
	ErrorTypeInsufficient   = "insufficient_fund"
	ErrorTypeUserCaused     = "user_caused_error"
	ErrorTypePrivacy        = "privacy_authorization_error"
)

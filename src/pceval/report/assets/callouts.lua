--[[
Quarto callouts for pandoc.

A div with class callout-note, -tip, -warning, -caution or -important becomes

  <div class="callout callout-note" role="note" aria-label="Note: Title">
    <div class="callout-title">Title</div>
    <div class="callout-body">...</div>
  </div>

The title is the div's title="..." attribute, else its first heading (which is removed, so it
does not enter the table of contents), else the callout type ("Note", "Tip", ...).
]]

local DEFAULT_TITLES = {
  note = "Note",
  tip = "Tip",
  warning = "Warning",
  caution = "Caution",
  important = "Important",
}

local function callout_type(div)
  for _, class in ipairs(div.classes) do
    local kind = class:match("^callout%-(%a+)$")
    if kind and DEFAULT_TITLES[kind] then
      return kind
    end
  end
  return nil
end

function Div(div)
  local kind = callout_type(div)
  if kind == nil then
    return nil
  end

  local content = div.content
  local title = nil
  local attr_title = div.attributes["title"]
  if attr_title ~= nil and attr_title ~= "" then
    local parsed = pandoc.read(attr_title, "markdown").blocks
    if #parsed > 0 and parsed[1].content ~= nil then
      title = parsed[1].content
    else
      title = pandoc.Inlines(attr_title)
    end
  elseif #content > 0 and content[1].t == "Header" then
    title = content[1].content
    content = pandoc.Blocks({ table.unpack(content, 2) })
  end
  if title == nil then
    title = pandoc.Inlines(DEFAULT_TITLES[kind])
  end

  local label = DEFAULT_TITLES[kind]
  local title_text = pandoc.utils.stringify(title)
  if title_text ~= label then
    label = label .. ": " .. title_text
  end

  local attributes = {}
  for key, value in pairs(div.attributes) do
    if key ~= "title" then
      attributes[key] = value
    end
  end
  attributes["role"] = "note"
  attributes["aria-label"] = label

  local classes = { "callout", "callout-" .. kind }
  for _, class in ipairs(div.classes) do
    if class ~= "callout-" .. kind and class ~= "callout" then
      table.insert(classes, class)
    end
  end

  return pandoc.Div({
    pandoc.Div({ pandoc.Plain(title) }, pandoc.Attr("", { "callout-title" })),
    pandoc.Div(content, pandoc.Attr("", { "callout-body" })),
  }, pandoc.Attr(div.identifier, classes, attributes))
end

--[[
Quarto cross-references for pandoc.

Figures (id fig-...) and tables (id tbl-...) are numbered in document order, their captions
get a "Figure N: " / "Table N: " prefix, and references become links:
@fig-x and [@fig-x] -> "Figure N", [-@fig-x] -> "N", @sec-x -> the section's title.

A float is
  - a figure: an image alone in its paragraph with id fig-... (![Caption](a.png){#fig-x});
  - a table: a pipe table with id tbl-... (: Caption {#tbl-x}), or a div with id tbl-...
    (its caption is its child div of class float-caption, else it gets one);
  - a div with id fig-... (its caption is its last paragraph, Quarto's convention).
Quarto's fig-alt="..." attribute on an image becomes its alt text.

Problems (a reference to nothing, a label used twice) stop the conversion with a message that
starts with "pceval: ", which the Python side turns into a ReportError.

Numbering is done here, on pandoc's document tree, rather than on the markdown text: figures
can come from cell output (a cell printing ![...](...){#fig-x}), the tree gives the true
document order, and pandoc has already told references (Cite) apart from code.
]]

local KINDS = { fig = "Figure", tbl = "Table" }
local numbers = {}
local counters = { fig = 0, tbl = 0 }
local sections = {}

local function fail(message)
  error("pceval: " .. message, 0)
end

local function float_kind(id)
  local kind = id:match("^(%a+)%-.")
  if kind ~= nil and KINDS[kind] ~= nil then
    return kind
  end
  return nil
end

local function register(id)
  if numbers[id] ~= nil then
    fail("the label '" .. id .. "' is used by more than one figure or table")
  end
  local kind = float_kind(id)
  counters[kind] = counters[kind] + 1
  numbers[id] = counters[kind]
  return KINDS[kind] .. " " .. numbers[id]
end

local function prefixed(inlines, label)
  if inlines == nil or #inlines == 0 then
    return pandoc.Inlines({ pandoc.Str(label) })
  end
  local result = pandoc.Inlines({ pandoc.Str(label .. ":"), pandoc.Space() })
  result:extend(inlines)
  return result
end

local function prefix_blocks(blocks, label)
  blocks = pandoc.Blocks(blocks)
  if #blocks > 0 and (blocks[1].t == "Plain" or blocks[1].t == "Para") then
    blocks[1].content = prefixed(blocks[1].content, label)
  else
    blocks:insert(1, pandoc.Plain(prefixed(nil, label)))
  end
  return blocks
end

-- Pass 1: alt text, and captionless labelled images as figures -----------------------------

local function use_fig_alt(image)
  local alt = image.attributes["fig-alt"]
  if alt ~= nil then
    image.attributes["fig-alt"] = nil
    image.attributes["alt"] = alt
  end
  return image
end

local function lone_labelled_image(para)
  if #para.content == 1 and para.content[1].t == "Image" then
    local image = para.content[1]
    if float_kind(image.identifier) == "fig" then
      local id = image.identifier
      image.identifier = ""
      return pandoc.Figure({ pandoc.Plain({ image }) }, {}, pandoc.Attr(id))
    end
  end
  return nil
end

local prepare = { Image = use_fig_alt, Para = lone_labelled_image }

-- Pass 2: number floats in document order ----------------------------------------------------

local function number_figure(figure)
  if float_kind(figure.identifier) ~= "fig" then
    return nil
  end
  local label = register(figure.identifier)
  figure.caption.long = prefix_blocks(figure.caption.long, label)
  return figure
end

local function number_table(tbl)
  if float_kind(tbl.identifier) ~= "tbl" then
    return nil
  end
  local label = register(tbl.identifier)
  tbl.caption.long = prefix_blocks(tbl.caption.long, label)
  return tbl
end

local function number_div(div)
  local kind = float_kind(div.identifier)
  if kind == nil or div.classes:includes("float-caption") then
    return nil
  end
  local label = register(div.identifier)
  if kind == "tbl" then
    for _, block in ipairs(div.content) do
      if block.t == "Div" and block.classes:includes("float-caption") then
        block.content = prefix_blocks(block.content, label)
        return div
      end
    end
    div.content:insert(
      1,
      pandoc.Div({ pandoc.Plain(prefixed(nil, label)) }, pandoc.Attr("", { "float-caption" }))
    )
    return div
  end
  local last = div.content[#div.content]
  if #div.content > 1 and last ~= nil and (last.t == "Para" or last.t == "Plain") then
    div.content[#div.content] = pandoc.Div(
      { pandoc.Plain(prefixed(last.content, label)) },
      pandoc.Attr("", { "float-caption" })
    )
  else
    div.content:insert(pandoc.Div({ pandoc.Plain(prefixed(nil, label)) }, pandoc.Attr("", { "float-caption" })))
  end
  return div
end

local function remember_section(header)
  if header.identifier:match("^sec%-") then
    sections[header.identifier] = header.content
  end
  return nil
end

local number = {
  traverse = "topdown",
  Figure = number_figure,
  Table = number_table,
  Div = number_div,
  Header = remember_section,
}

-- Pass 3: references ------------------------------------------------------------------------

local function reference(citation)
  local id = citation.id
  local key = id:sub(1, 1):lower() .. id:sub(2)
  local kind = float_kind(key)
  if kind ~= nil then
    if numbers[key] == nil then
      fail("the cross-reference @" .. id .. " points to no figure or table in the report")
    end
    local text = tostring(numbers[key])
    if citation.mode ~= "SuppressAuthor" then
      text = KINDS[kind] .. " " .. text
    end
    return pandoc.Link(pandoc.Inlines(text), "#" .. key, "", pandoc.Attr("", { "xref" }))
  end
  if key:match("^sec%-") then
    if sections[key] == nil then
      fail("the cross-reference @" .. id .. " points to no section in the report")
    end
    return pandoc.Link(sections[key]:clone(), "#" .. key, "", pandoc.Attr("", { "xref" }))
  end
  return nil
end

local function resolve(cite)
  local links = pandoc.Inlines({})
  for index, citation in ipairs(cite.citations) do
    local link = reference(citation)
    if link == nil then
      return nil -- a bibliographic citation: leave it to pandoc
    end
    if index > 1 then
      links:extend({ pandoc.Str(","), pandoc.Space() })
    end
    links:insert(link)
  end
  return links
end

local refer = { Cite = resolve }

return { prepare, number, refer }

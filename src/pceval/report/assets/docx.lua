--[[
Word specifics, after callouts.lua and crossref.lua.

- Alt text: Word reads an image's description from its inline content, so the alt attribute
  (Quarto's fig-alt, moved there by crossref.lua) becomes that content. An image without alt
  text is described by its figure's caption, never by its file name or data URI.
- Callouts: the title and body paragraphs take the paragraph styles "Callout Note Title" and
  "Callout Note" (and likewise Tip, Warning, Caution, Important), which the reference document
  (pceval.report.docx_style) gives a coloured left rule and a tinted background.
]]

local KINDS = {
  note = "Note",
  tip = "Tip",
  warning = "Warning",
  caution = "Caution",
  important = "Important",
}

local function describe(image, fallback)
  local alt = image.attributes["alt"]
  if alt ~= nil and alt ~= "" then
    image.caption = pandoc.Inlines(alt)
    image.attributes["alt"] = nil
  elseif #image.caption == 0 then
    image.caption = fallback
  end
  return image
end

local function figure(fig)
  local caption = pandoc.Inlines(pandoc.utils.stringify(fig.caption.long))
  if #caption == 0 then
    caption = pandoc.Inlines("Figure")
  end
  return fig:walk({
    Image = function(image)
      return describe(image, caption)
    end,
  })
end

local function image(img)
  return describe(img, pandoc.Inlines("Image"))
end

local function callout(div)
  if not div.classes:includes("callout") then
    return nil
  end
  local name = nil
  for _, class in ipairs(div.classes) do
    local kind = class:match("^callout%-(%a+)$")
    if kind ~= nil and KINDS[kind] ~= nil then
      name = KINDS[kind]
    end
  end
  if name == nil then
    return nil
  end
  local title, body = pandoc.Blocks({}), pandoc.Blocks({})
  for _, block in ipairs(div.content) do
    if block.t == "Div" and block.classes:includes("callout-title") then
      title = block.content
    elseif block.t == "Div" and block.classes:includes("callout-body") then
      body = block.content
    end
  end
  local style = "Callout " .. name
  return pandoc.Div({
    pandoc.Div(title, pandoc.Attr("", {}, { ["custom-style"] = style .. " Title" })),
    pandoc.Div(body, pandoc.Attr("", {}, { ["custom-style"] = style })),
  }, pandoc.Attr(div.identifier))
end

return {
  { Figure = figure },
  { Image = image, Div = callout },
}

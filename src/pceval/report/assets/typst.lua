--[[
Typst specifics, after callouts.lua and crossref.lua.

- Images (files by now, see media.lua): pandoc's Typst writer drops alt text, so each image
  becomes raw Typst image(..., alt: "..."), and the tagged PDF carries the alt text. Images
  in a figure fill the text width.
- Callouts become calls of the template's callout(kind, title)[body] function.
]]

local function typst_string(text)
  return '"' .. text:gsub("\\", "\\\\"):gsub('"', '\\"'):gsub("\n", " ") .. '"'
end

local function typst_markup(inlines)
  local written = pandoc.write(pandoc.Pandoc({ pandoc.Plain(inlines) }), "typst")
  return (written:gsub("%s+$", ""))
end

local function width_of(image, in_figure)
  local width = image.attributes["width"]
  if width ~= nil then
    if width:match("%%$") then
      return width
    end
    local pixels = tonumber((width:gsub("px$", "")))
    if pixels ~= nil then
      return string.format("%gpt", pixels * 0.75) -- CSS pixels are 3/4 of a point
    end
  end
  if in_figure then
    return "100%"
  end
  return nil
end

local function image_call(image, in_figure)
  local path = image.src
  local alt = image.attributes["alt"]
  if alt == nil or alt == "" then
    alt = pandoc.utils.stringify(image.caption)
  end
  local arguments = { typst_string(path) }
  local width = width_of(image, in_figure)
  if width ~= nil then
    table.insert(arguments, "width: " .. width)
  end
  if alt ~= "" then
    table.insert(arguments, "alt: " .. typst_string(alt))
  end
  return "image(" .. table.concat(arguments, ", ") .. ")"
end

local function figure(fig)
  return fig:walk({
    Image = function(image)
      return pandoc.RawInline("typst", "#" .. image_call(image, true))
    end,
  })
end

local function inline_image(image)
  return pandoc.RawInline("typst", "#box(" .. image_call(image, false) .. ")")
end

local function callout(div)
  if not div.classes:includes("callout") then
    return nil
  end
  local kind = nil
  for _, class in ipairs(div.classes) do
    kind = kind or class:match("^callout%-(%a+)$")
  end
  local title, body = pandoc.Inlines({}), pandoc.Blocks({})
  for _, block in ipairs(div.content) do
    if block.t == "Div" and block.classes:includes("callout-title") then
      title = pandoc.utils.blocks_to_inlines(block.content)
    elseif block.t == "Div" and block.classes:includes("callout-body") then
      body = block.content
    end
  end
  local blocks = pandoc.Blocks({
    pandoc.RawBlock(
      "typst",
      "#callout(" .. typst_string(kind or "note") .. ", [" .. typst_markup(title) .. "])["
    ),
  })
  blocks:extend(body)
  blocks:insert(pandoc.RawBlock("typst", "]"))
  return blocks
end

return {
  { Figure = figure },
  { Image = inline_image, Div = callout },
}

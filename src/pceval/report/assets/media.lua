--[[
Images as files, for DOCX and PDF.

A report's figures are PNG or SVG data URIs in the intermediate markdown (the HTML report
embeds them as they are). Typst reads images from files only, and pandoc's Word writer copies
an image's source into the document's picture properties, where a data URI would be the whole
image again as text. So each image (data URI or file) is written once, as <sha1>.<ext>, into
the folder named by the metadata field pceval-media-dir, and its source becomes
"<that folder's name>/<sha1>.<ext>": relative, so the same report gives the same bytes.
The writer runs pandoc (or Typst) with the folder's parent as a resource path (or root).
]]

local EXTENSIONS = {
  ["image/png"] = "png",
  ["image/jpeg"] = "jpg",
  ["image/svg+xml"] = "svg",
  ["image/gif"] = "gif",
}

local function fail(message)
  error("pceval: " .. message, 0)
end

local function saver(media_dir)
  local saved = {}
  return function(image)
    local ok, mime, contents = pcall(pandoc.mediabag.fetch, image.src)
    if not ok or contents == nil then
      fail("the image '" .. image.src:sub(1, 60) .. "' cannot be read")
    end
    mime = (mime or ""):match("^[^;]+") or ""
    local extension = EXTENSIONS[mime]
    if extension == nil then
      fail("images of type '" .. mime .. "' cannot be put in a DOCX or PDF report")
    end
    local name = pandoc.utils.sha1(contents) .. "." .. extension
    if not saved[name] then
      local handle = io.open(pandoc.path.join({ media_dir, name }), "wb")
      if handle == nil then
        fail("cannot write the image file " .. name)
      end
      handle:write(contents)
      handle:close()
      saved[name] = true
    end
    image.src = pandoc.path.join({ pandoc.path.filename(media_dir), name })
    return image
  end
end

function Pandoc(doc)
  local dir = doc.meta["pceval-media-dir"]
  if dir == nil then
    fail("the DOCX and PDF writers need the metadata field pceval-media-dir")
  end
  doc.meta["pceval-media-dir"] = nil
  return doc:walk({ Image = saver(pandoc.utils.stringify(dir)) })
end

"""What the sample store sells, with the product facts its knowledge base and agent quote."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    name: str
    sku: str
    price: float
    facts: tuple[tuple[str, str], ...]
    """(question template, answer template) pairs; `{p}` is the product name."""


PRODUCTS: tuple[Product, ...] = (
    Product(
        "Wireless Earbuds Pro",
        "SKU-EB-200",
        129.99,
        (
            (
                "How long does the battery last on the {p}?",
                "The {p} last up to 8 hours on a single charge and up to 30 hours with the charging case.",
            ),
            (
                "Are the {p} waterproof?",
                "The {p} are rated IPX4, so they handle sweat and light rain but should not be submerged.",
            ),
        ),
    ),
    Product(
        "Trailblazer 2 Backpack",
        "SKU-BP-310",
        89.00,
        (
            (
                "Does the {p} fit a 16 inch laptop?",
                "Yes, the {p} has a padded sleeve that fits laptops up to 16 inches.",
            ),
            (
                "What is the {p} made of?",
                "The {p} is made from recycled 600D polyester with a water-resistant coating.",
            ),
        ),
    ),
    Product(
        "SmartHome Hub Mini",
        "SKU-HB-050",
        59.99,
        (
            (
                "Does the {p} work with Alexa?",
                "Yes, the {p} works with Alexa, Google Assistant and Apple Home.",
            ),
            (
                "Does the {p} need a wired internet connection?",
                "No, the {p} connects over 2.4 GHz or 5 GHz Wi-Fi; the Ethernet port is optional.",
            ),
        ),
    ),
    Product(
        "Aero Running Shoes",
        "SKU-RS-721",
        119.00,
        (
            (
                "Do the {p} run true to size?",
                "The {p} run true to size; if you are between sizes, we recommend going half a size up.",
            ),
            (
                "Are the {p} good for trail running?",
                "The {p} are designed for road running; for trails we recommend the Aero Trail model.",
            ),
        ),
    ),
    Product(
        "Pour-Over Coffee Kit",
        "SKU-CK-115",
        45.00,
        (
            (
                "Is the {p} dishwasher safe?",
                "The glass carafe and steel filter of the {p} are dishwasher safe; the wooden collar "
                "should be washed by hand.",
            ),
            (
                "How many cups does the {p} make?",
                "The {p} brews up to 4 cups (600 ml) at a time.",
            ),
        ),
    ),
    Product(
        "4K Action Camera",
        "SKU-AC-400",
        249.00,
        (
            (
                "How long can the {p} record in 4K?",
                "The {p} records about 75 minutes of 4K video at 30 fps on one battery.",
            ),
            (
                "Is the {p} waterproof without a case?",
                "Yes, the {p} is waterproof to 10 m on its own and to 40 m with the dive housing.",
            ),
        ),
    ),
    Product(
        "Ergo Office Chair",
        "SKU-OC-900",
        349.00,
        (
            (
                "What is the weight limit of the {p}?",
                "The {p} supports up to 300 lb (136 kg).",
            ),
            (
                "Does the {p} need assembly?",
                "The {p} needs light assembly, about 15 minutes, and all tools are included.",
            ),
        ),
    ),
    Product(
        "Insulated Water Bottle",
        "SKU-WB-075",
        29.00,
        (
            (
                "How long does the {p} keep drinks cold?",
                "The {p} keeps drinks cold for up to 24 hours and hot for up to 12 hours.",
            ),
            (
                "Is the {p} BPA free?",
                "Yes, the {p} is made of BPA-free stainless steel, including the lid.",
            ),
        ),
    ),
)
